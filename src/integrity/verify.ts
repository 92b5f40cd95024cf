import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import { OpxError } from '../shared/errors.js';
import { GENESIS_HEAD, SHORT_HEX, chainStep, changedFields, digestEvent, type EventDigest } from './event-digest.js';
import {
  CHAIN_STARTED,
  INTEGRITY_EXCLUDED_PREFIXES,
  INTEGRITY_STREAM,
  checkChainStarted,
  isExcluded,
  parseSeal,
  type ParsedEntry,
  type Seal,
} from './seal.js';

/** The part of an event that differs from what its seal holds. */
export type EventPart = 'stream' | 'revision' | 'type' | 'id' | 'data' | 'metadata';

/** One place where history is not what was sealed. */
export interface IntegrityFinding {
  /**
   * changed: a sealed event reads differently now; deleted: a sealed event is gone; added: an
   * event sits where no seal has it (inside sealed history); seal: the chain itself is broken or
   * unreadable; anchor: the head given to check against is not in the chain.
   */
  readonly kind: 'changed' | 'deleted' | 'added' | 'seal' | 'anchor';
  readonly streamId?: string;
  readonly revision?: string;
  readonly position?: string;
  /** For `changed`: which parts differ. */
  readonly parts?: readonly EventPart[];
  /** For `changed`: the top-level fields that differ, as `data.<field>` / `metadata.<field>`, when they can be named. */
  readonly fields?: readonly string[];
  /** The revision of the seal (in `opx-integrity`) that holds the event, or that is broken. */
  readonly sealRevision?: string;
  readonly message: string;
}

export interface IntegrityReport {
  /**
   * INTACT: every sealed event reads as sealed and the chain holds (events not sealed yet are
   * counted apart); TAMPERED: at least one finding; UNSEALED: the store has events and no chain
   * (recorded before the chain existed, or no sealer has run): nothing to check them against.
   */
  readonly verdict: 'INTACT' | 'TAMPERED' | 'UNSEALED';
  /** Events of the streams the chain covers, read from `$all`. */
  readonly eventsRead: number;
  /** Of those, events that read exactly as sealed. */
  readonly eventsVerified: number;
  /** Events of excluded streams (retention-limited or derived: see INTEGRITY_EXCLUDED_PREFIXES), not checked. */
  readonly eventsExcluded: number;
  /** Events recorded before the chain was started (sealed as they were found then, evidence from that point only). */
  readonly recordedBeforeChain: number;
  /** Events after the last seal: not sealed yet (a sealer catches up), or the whole store when it has no chain. */
  readonly unsealed: number;
  /** Events a broken seal should cover, which could therefore not be checked. */
  readonly unverifiable: number;
  readonly seals: number;
  readonly chain: {
    /** The position of the chain's first event (IntegrityChainStarted), or null when there is no chain. */
    readonly startedAt: string | null;
    /** The head of the last seal checked (64 hex): record it elsewhere, and check later with --anchor. */
    readonly head: string | null;
    readonly sealedThrough: string | null;
  };
  readonly anchor?: { readonly head: string; readonly found: boolean };
  readonly findingCount: number;
  /** The first {@link MAX_REPORTED_FINDINGS}, in `$all` order. */
  readonly findings: readonly IntegrityFinding[];
}

export interface VerifyOptions {
  /** A chain head recorded earlier (e.g. from a previous report): TAMPERED unless some seal has it. */
  readonly anchor?: string;
  readonly onProgress?: (eventsRead: number) => void;
}

export const MAX_REPORTED_FINDINGS = 100;

export class InvalidAnchor extends OpxError {
  static readonly code = 'opx.integrity.invalid_anchor';

  constructor(anchor: string) {
    super(InvalidAnchor.code, `an anchor is a chain head of 64 lowercase hex, got '${anchor}'`);
  }
}

/**
 * Checks a store against its integrity chain without replaying anything: every event of `$all`
 * the chain covers is digested again and compared with its seal's entry (stream, revision, type,
 * id, data and metadata, down to the top-level field), every sealed event must still be there and
 * nothing may have been slipped in between, and each seal's head must be what its events hash to,
 * chained from the seal before it. Seals are read as the scan reaches them, so memory is a seal's
 * entries whatever the history's length. Only seals that existed when it started are checked:
 * events sealed while it runs count as not sealed yet.
 */
export async function verifyHistory(source: EventReader, options: VerifyOptions = {}, events?: AsyncIterable<RecordedEvent>): Promise<IntegrityReport> {
  if (options.anchor !== undefined && !/^[0-9a-f]{64}$/.test(options.anchor)) throw new InvalidAnchor(options.anchor);
  const walk = new ChainWalk(source, options.anchor);
  await walk.open();
  let read = 0;
  for await (const event of events ?? source.readAll()) {
    if (++read % 10_000 === 0) options.onProgress?.(read);
    if (event.streamId === INTEGRITY_STREAM) continue;
    await walk.event(event);
  }
  await walk.finish();
  return walk.report();
}

/** The scan's walk along the chain: the seal covering the scan's position, and what was found. */
class ChainWalk {
  private readonly findings: IntegrityFinding[] = [];
  private findingCount = 0;
  private seals: AsyncIterator<RecordedEvent> | undefined;
  /** The chain's last revision when the walk began: later seals are not checked. */
  private lastRevision: bigint | undefined;
  private startedAt: bigint | undefined;
  private hasChain = false;
  private seal: Seal | undefined;
  private entryIndex = 0;
  /** Findings in the current seal: its head cannot match then, and saying so again adds nothing. */
  private sealFindings = 0;
  private folded = '';
  /** The head and position the chain got to, as the seals before the current one recorded them. */
  private head = GENESIS_HEAD;
  private through: bigint | undefined;
  /** After a broken seal: the events up to the next good seal's start cannot be checked. */
  private brokenUntil: bigint | undefined;
  private brokenSeal = false;
  private sealsChecked = 0;
  private anchorFound = false;
  private eventsRead = 0;
  private eventsVerified = 0;
  private eventsExcluded = 0;
  private recordedBeforeChain = 0;
  private unsealed = 0;
  private unverifiable = 0;
  private finished = false;

  constructor(
    private readonly source: EventReader,
    private readonly anchor: string | undefined,
  ) {}

  async open(): Promise<void> {
    for await (const last of this.source.readStream(INTEGRITY_STREAM, { direction: 'backwards', maxCount: 1 })) this.lastRevision = last.revision;
    if (this.lastRevision === undefined) return;
    this.hasChain = true;
    this.seals = this.source.readStream(INTEGRITY_STREAM)[Symbol.asyncIterator]();
    const first = await this.seals.next();
    if (first.done === true) return;
    const start = first.value;
    this.startedAt = start.position;
    if (start.revision !== 0n || start.type !== CHAIN_STARTED) {
      this.find({ kind: 'seal', sealRevision: start.revision.toString(), message: `the chain's first event (revision ${start.revision}, ${start.type}) is not its start: its beginning was removed or replaced` });
    } else {
      try {
        checkChainStarted(start);
      } catch (error) {
        this.find({ kind: 'seal', sealRevision: '0', message: (error as Error).message });
      }
    }
    await this.nextSeal();
  }

  async event(event: RecordedEvent): Promise<void> {
    while (this.seal !== undefined && this.seal.through < event.position) await this.closeSeal();
    // Under the exclusions of the seal that covers it (or, past the last seal, the ones a sealer uses now).
    if (isExcluded(event.streamId, this.seal?.excludedPrefixes ?? INTEGRITY_EXCLUDED_PREFIXES)) {
      this.eventsExcluded++;
      return;
    }
    this.eventsRead++;
    if (this.startedAt !== undefined && event.position < this.startedAt) this.recordedBeforeChain++;
    if (this.brokenUntil !== undefined && event.position <= this.brokenUntil) {
      this.unverifiable++;
      return;
    }
    const seal = this.seal;
    if (seal === undefined) {
      if (this.brokenSeal) this.unverifiable++;
      else this.unsealed++;
      return;
    }
    if (seal.after !== undefined && event.position <= seal.after) {
      // Sealed history has no place for it: the seal before ended at or after it, this one starts after it.
      this.added(event, seal, 'between two seals');
      return;
    }
    const entries = seal.entries;
    while (this.entryIndex < entries.length && (entries[this.entryIndex] as ParsedEntry).position < event.position) this.deleted(entries[this.entryIndex++] as ParsedEntry, seal);
    const entry = entries[this.entryIndex];
    const digest = digestEvent(event);
    this.folded = chainStep(this.folded, digest.full);
    if (entry === undefined || entry.position !== event.position) {
      this.added(event, seal, 'inside a seal that does not list it');
      return;
    }
    this.entryIndex++;
    this.compare(event, digest, entry, seal);
  }

  async finish(): Promise<void> {
    while (this.seal !== undefined) await this.closeSeal();
    if (this.anchor !== undefined && !this.anchorFound) {
      this.find({ kind: 'anchor', message: `no seal of the chain has the head ${this.anchor}: the chain was rewritten or cut short since that head was recorded` });
    }
    this.finished = true;
  }

  report(): IntegrityReport {
    if (!this.finished) throw new Error('ChainWalk.report() before finish()');
    const verdict = this.findingCount > 0 ? 'TAMPERED' : !this.hasChain && this.eventsRead > 0 ? 'UNSEALED' : 'INTACT';
    return {
      verdict,
      eventsRead: this.eventsRead,
      eventsVerified: this.eventsVerified,
      eventsExcluded: this.eventsExcluded,
      recordedBeforeChain: this.recordedBeforeChain,
      unsealed: this.unsealed,
      unverifiable: this.unverifiable,
      seals: this.sealsChecked,
      chain: {
        startedAt: this.startedAt?.toString() ?? null,
        head: this.hasChain ? this.head : null,
        sealedThrough: this.through?.toString() ?? null,
      },
      ...(this.anchor === undefined ? {} : { anchor: { head: this.anchor, found: this.anchorFound } }),
      findingCount: this.findingCount,
      findings: this.findings,
    };
  }

  /** The next seal of the chain as it was when the walk began, checked against the one before; undefined after the last. */
  private async nextSeal(): Promise<void> {
    this.seal = undefined;
    for (;;) {
      const next = this.seals === undefined ? undefined : await this.seals.next();
      if (next === undefined || next.done === true || (this.lastRevision !== undefined && next.value.revision > this.lastRevision)) return;
      let seal: Seal;
      try {
        seal = parseSeal(next.value);
      } catch (error) {
        this.find({ kind: 'seal', sealRevision: next.value.revision.toString(), message: (error as Error).message });
        this.brokenSeal = true;
        continue;
      }
      const expectedAfter = this.through;
      if (this.brokenSeal) {
        // What the broken seals covered is unknown: from where the chain was to where this seal starts.
        this.brokenUntil = seal.after;
        this.brokenSeal = false;
      } else if (seal.after !== expectedAfter || seal.previous !== this.head) {
        this.find({
          kind: 'seal',
          sealRevision: seal.revision.toString(),
          message:
            seal.previous !== this.head
              ? `seal ${seal.revision} does not chain from the seal before it (previous ${seal.previous}, the chain was at ${this.head}): a seal was removed, replaced or rewritten`
              : `seal ${seal.revision} starts after position ${seal.after ?? 'none'}, the seal before it ended at ${expectedAfter ?? 'the beginning'}: a seal was removed or rewritten`,
        });
        if (seal.after !== undefined && (expectedAfter === undefined || seal.after > expectedAfter)) this.brokenUntil = seal.after;
      }
      this.seal = seal;
      this.entryIndex = 0;
      this.sealFindings = 0;
      this.folded = seal.previous;
      return;
    }
  }

  private async closeSeal(): Promise<void> {
    const seal = this.seal as Seal;
    for (; this.entryIndex < seal.entries.length; this.entryIndex++) this.deleted(seal.entries[this.entryIndex] as ParsedEntry, seal);
    if (this.sealFindings === 0 && this.folded !== seal.head) {
      this.find({
        kind: 'seal',
        sealRevision: seal.revision.toString(),
        message: `the ${seal.entries.length} events of seal ${seal.revision} read as sealed field by field, but hash to another head than it recorded (${seal.head}): an event changed where a short digest cannot tell, or the seal was rewritten`,
      });
    }
    this.sealsChecked++;
    if (seal.head === this.anchor) this.anchorFound = true;
    // The walk goes on from what the seal recorded, so one changed event is reported once, not in every later seal.
    this.head = seal.head;
    this.through = seal.through;
    this.brokenUntil = undefined;
    await this.nextSeal();
  }

  private compare(event: RecordedEvent, digest: EventDigest, entry: ParsedEntry, seal: Seal): void {
    const parts: EventPart[] = [];
    const fields: string[] = [];
    let removed = 0;
    if (entry.streamId !== event.streamId) parts.push('stream');
    if (entry.revision !== event.revision) parts.push('revision');
    if (entry.typeId.slice(0, SHORT_HEX) !== digest.typeId.slice(0, SHORT_HEX)) parts.push('type');
    if (entry.typeId.slice(SHORT_HEX) !== digest.typeId.slice(SHORT_HEX)) parts.push('id');
    for (const part of ['data', 'metadata'] as const) {
      if (entry[part] === digest[part]) continue;
      parts.push(part);
      const changed = changedFields(readPart(event, part), entry[part]);
      fields.push(...changed.fields.map((field) => `${part}.${field}`));
      removed += changed.removed;
    }
    if (parts.length === 0) {
      this.eventsVerified++;
      return;
    }
    const where = `${entry.streamId} revision ${entry.revision} (position ${event.position})`;
    const what = parts.includes('stream') || parts.includes('revision') ? `is now ${event.streamId} revision ${event.revision}` : `${parts.join(', ')} changed`;
    this.find(
      {
        kind: 'changed',
        streamId: entry.streamId,
        revision: entry.revision.toString(),
        position: event.position.toString(),
        parts,
        ...(fields.length === 0 ? {} : { fields }),
        sealRevision: seal.revision.toString(),
        message: `${where} ${what}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}${removed > 0 ? `; ${removed} top-level field${removed === 1 ? '' : 's'} removed` : ''} since seal ${seal.revision}`,
      },
      seal,
    );
  }

  private deleted(entry: ParsedEntry, seal: Seal): void {
    this.find(
      {
        kind: 'deleted',
        streamId: entry.streamId,
        revision: entry.revision.toString(),
        position: entry.position.toString(),
        sealRevision: seal.revision.toString(),
        message: `${entry.streamId} revision ${entry.revision} (position ${entry.position}) was sealed by seal ${seal.revision} and is gone`,
      },
      seal,
    );
  }

  private added(event: RecordedEvent, seal: Seal, where: string): void {
    this.find(
      {
        kind: 'added',
        streamId: event.streamId,
        revision: event.revision.toString(),
        position: event.position.toString(),
        sealRevision: seal.revision.toString(),
        message: `${event.streamId} revision ${event.revision} (position ${event.position}, ${event.type}) is in sealed history ${where} (seal ${seal.revision}): it was slipped in after sealing`,
      },
      seal,
    );
  }

  private find(finding: IntegrityFinding, seal?: Seal): void {
    this.findingCount++;
    if (seal !== undefined && seal === this.seal) this.sealFindings++;
    if (this.findings.length < MAX_REPORTED_FINDINGS) this.findings.push(finding);
  }
}

function readPart(event: RecordedEvent, part: 'data' | 'metadata'): unknown {
  try {
    return event[part];
  } catch {
    return undefined;
  }
}
