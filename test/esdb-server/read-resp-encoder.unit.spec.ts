import { expect } from 'chai';

import { persistentPb, streamsPb } from '../../src/esdb-server/proto.js';
import { toStreamIdentifier, toUuid } from '../../src/esdb-server/rpc.js';
import type { StoredEvent } from '../../src/esdb-server/storage/engine.js';
import { encodeReadEventResp } from '../../src/esdb-server/wire/read-resp-encoder.js';

/** The oracle: the same ReadResp built and serialized by the client's generated google-protobuf classes. */
function generatedBytes(event: StoredEvent | undefined, link: StoredEvent | undefined, structured: boolean, commitPosition: bigint): Buffer {
  const recorded = (e: StoredEvent): InstanceType<typeof streamsPb.ReadResp.ReadEvent.RecordedEvent> => {
    const r = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
    r.setId(toUuid(e.eventId, structured));
    r.setStreamIdentifier(toStreamIdentifier(e.streamId));
    r.setStreamRevision(e.revision.toString());
    r.setCommitPosition(e.position.toString());
    r.setPreparePosition(e.position.toString());
    const metadata = r.getMetadataMap();
    metadata.set('type', e.type);
    metadata.set('content-type', e.contentType);
    metadata.set('created', e.created.toString());
    r.setData(e.data);
    r.setCustomMetadata(e.metadata);
    return r;
  };
  const readEvent = new streamsPb.ReadResp.ReadEvent();
  if (event !== undefined) readEvent.setEvent(recorded(event));
  if (link !== undefined) readEvent.setLink(recorded(link));
  readEvent.setCommitPosition(commitPosition.toString());
  return Buffer.from(new streamsPb.ReadResp().setEvent(readEvent).serializeBinary());
}

/** The oracle for a persistent subscription's delivery: its position in every recorded event, and its retry count. */
function generatedPersistentBytes(event: StoredEvent | undefined, link: StoredEvent | undefined, structured: boolean, position: bigint, retryCount: number): Buffer {
  const recorded = (e: StoredEvent): InstanceType<typeof persistentPb.ReadResp.ReadEvent.RecordedEvent> => {
    const r = new persistentPb.ReadResp.ReadEvent.RecordedEvent()
      .setId(toUuid(e.eventId, structured))
      .setStreamIdentifier(toStreamIdentifier(e.streamId))
      .setStreamRevision(e.revision.toString())
      .setCommitPosition(position.toString())
      .setPreparePosition(position.toString())
      .setData(e.data)
      .setCustomMetadata(e.metadata);
    const metadata = r.getMetadataMap();
    metadata.set('type', e.type);
    metadata.set('content-type', e.contentType);
    metadata.set('created', e.created.toString());
    return r;
  };
  const readEvent = new persistentPb.ReadResp.ReadEvent().setCommitPosition(position.toString()).setRetryCount(retryCount);
  if (event !== undefined) readEvent.setEvent(recorded(event));
  if (link !== undefined) readEvent.setLink(recorded(link));
  return Buffer.from(new persistentPb.ReadResp().setEvent(readEvent).serializeBinary());
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const base: StoredEvent = {
  position: 4_242n,
  streamId: 'candidate-cand-ad4c77bf34fb887648a31a87',
  revision: 2n,
  eventId: '69ff9c70-6cc3-5a8b-a0af-a75873baad82',
  type: 'PromotionDecided',
  contentType: 'application/json',
  data: bytes(JSON.stringify({ decisionId: 'dec-1', reason: 'x'.repeat(300) })),
  metadata: bytes('{"$correlationId":"69ff9c70-6cc3-5a8b-a0af-a75873baad82","schemaVersion":1}'),
  created: 639_000_000_000_000_000n,
};

const cases: ReadonlyArray<readonly [string, StoredEvent]> = [
  ['a typical event', base],
  ['revision 0 and position 0 (proto3 defaults, left out)', { ...base, revision: 0n, position: 0n }],
  ['positions and revisions past 2^53', { ...base, revision: 2n ** 60n + 5n, position: 2n ** 64n - 8n }],
  ['empty data and metadata (left out)', { ...base, data: new Uint8Array(), metadata: new Uint8Array() }],
  ['binary content, a unicode stream name and type', { ...base, contentType: 'application/octet-stream', streamId: 'incident-ünïcødé-🚨', type: 'Événement', data: Uint8Array.from([0, 255, 128, 7]) }],
  ['an id whose halves are negative as int64', { ...base, eventId: 'ffffffff-ffff-4fff-bfff-ffffffffffff' }],
  ['an id whose halves are zero (left out)', { ...base, eventId: '00000000-0000-0000-0000-000000000000' }],
  ['an id with one zero half', { ...base, eventId: '00000000-0000-0000-8000-000000000001' }],
  ['a payload whose length takes a three-byte varint', { ...base, data: new Uint8Array(20_000).fill(65) }],
];

describe('ReadResp wire encoder (embedded server reads)', () => {
  for (const structured of [false, true]) {
    for (const [name, event] of cases) {
      it(`writes exactly the generated classes' bytes for ${name} (${structured ? 'structured' : 'string'} ids)`, () => {
        const commit = event.position + 7n;
        expect(Buffer.from(encodeReadEventResp(event, undefined, structured, commit)).equals(generatedBytes(event, undefined, structured, commit))).to.equal(true);
      });
    }
    it(`writes a resolved link (event and link) and an unresolved one (link only) as the generated classes do (${structured ? 'structured' : 'string'} ids)`, () => {
      const link: StoredEvent = { ...base, streamId: '$ce-candidate', type: '$>', data: bytes('2@candidate-x'), metadata: new Uint8Array(), position: 9_000n, revision: 11n };
      expect(Buffer.from(encodeReadEventResp(base, link, structured, link.position)).equals(generatedBytes(base, link, structured, link.position))).to.equal(true);
      expect(Buffer.from(encodeReadEventResp(undefined, link, structured, link.position)).equals(generatedBytes(undefined, link, structured, link.position))).to.equal(true);
    });
  }

  for (const structured of [false, true]) {
    for (const [name, event] of cases) {
      for (const retryCount of [0, 3, 300]) {
        it(`writes a persistent subscription's delivery as its generated classes do: ${name}, retry count ${retryCount} (${structured ? 'structured' : 'string'} ids)`, () => {
          const position = event.position === 0n ? 0n : event.position + 3n;
          const encoded = encodeReadEventResp(event, undefined, structured, position, { recordedPosition: position, retryCount });
          expect(Buffer.from(encoded).equals(generatedPersistentBytes(event, undefined, structured, position, retryCount))).to.equal(true);
        });
      }
    }
  }

  it("writes a persistent delivery of a link, resolved or not, as its generated classes do", () => {
    const link: StoredEvent = { ...base, streamId: '$ce-candidate', type: '$>', data: bytes('2@candidate-x'), metadata: new Uint8Array(), position: 9_000n, revision: 11n };
    for (const event of [base, undefined]) {
      const encoded = encodeReadEventResp(event, link, false, 9_000n, { recordedPosition: 9_000n, retryCount: 1 });
      expect(Buffer.from(encoded).equals(generatedPersistentBytes(event, link, false, 9_000n, 1))).to.equal(true);
    }
  });

  it('refuses a retry count that is not a non-negative int32', () => {
    for (const retryCount of [-1, 1.5, 2 ** 31]) expect(() => encodeReadEventResp(base, undefined, false, 1n, { retryCount })).to.throw(RangeError, /retry count/);
  });

  it('decodes, through the generated classes, to every field of the stored event', () => {
    const decoded = streamsPb.ReadResp.deserializeBinary(encodeReadEventResp(base, undefined, false, 4_249n));
    const readEvent = decoded.getEvent();
    const recorded = readEvent?.getEvent();
    expect(readEvent?.getCommitPosition()).to.equal('4249');
    expect(recorded?.getId()?.getString()).to.equal(base.eventId);
    expect(Buffer.from(recorded?.getStreamIdentifier()?.getStreamName_asU8() ?? []).toString('utf8')).to.equal(base.streamId);
    expect(recorded?.getStreamRevision()).to.equal('2');
    expect(recorded?.getCommitPosition()).to.equal('4242');
    expect(recorded?.getPreparePosition()).to.equal('4242');
    expect(Object.fromEntries(recorded?.getMetadataMap().entries() ?? [])).to.deep.equal({ type: base.type, 'content-type': base.contentType, created: base.created.toString() });
    expect(Buffer.from(recorded?.getData_asU8() ?? []).equals(Buffer.from(base.data))).to.equal(true);
    expect(Buffer.from(recorded?.getCustomMetadata_asU8() ?? []).equals(Buffer.from(base.metadata))).to.equal(true);
  });
});
