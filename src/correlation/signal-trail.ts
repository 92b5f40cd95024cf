import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import { factTime, signalCodec, SIGNAL_STREAM_PREFIX, type SignalFact } from '../signals/signal-events.js';
import { OpxError } from '../shared/errors.js';
import { groupCodec, groupIdOf, groupStreamId, type SignalCorrelatedData } from './correlation-events.js';
import type { CorrelationRuleSet } from './correlation-rule.js';
import type { Candidate } from './correlator.js';
import { groupKeyOf, ruleFor } from './rule-match.js';

/** One signal as a candidate's group recorded it. */
export interface TrailEntry {
  readonly signalId: string;
  readonly status: SignalCorrelatedData['status'];
  readonly outcome: SignalCorrelatedData['outcome'];
  readonly observedAt: string;
  readonly endsAt?: string;
  readonly severity: string;
  readonly alertname?: string;
  readonly late: boolean;
}

/** The signals of a candidate and whether they all resolved. */
export interface CandidateSignals {
  readonly groupStream: string;
  readonly entries: readonly TrailEntry[];
  readonly firing: number;
  readonly resolved: number;
  /** Every firing recorded on the candidate has resolved (the problem went away; moving the incident on is still a person's act). */
  readonly allResolved: boolean;
}

/**
 * The signals recorded on a live-correlated candidate: those counted into the window that opened
 * it, those attached to it while it was open, their resolutions; with `throughRevision`, as the
 * group stream stood at that revision. Undefined for a candidate of the batch correlation (its
 * signal ids are all it has).
 */
export async function candidateSignals(reader: EventReader, candidate: Candidate, options: { readonly throughRevision?: bigint } = {}): Promise<CandidateSignals | undefined> {
  if (candidate.context === undefined) return undefined;
  const groupStream = groupStreamId(groupIdOf(candidate.correlationRuleId, candidate.correlationRuleVersion, candidate.groupKey));
  const opening = new Set(candidate.signalIds);
  const entries: TrailEntry[] = [];
  const firing = new Map<string, boolean>();
  const read = options.throughRevision === undefined ? {} : { maxCount: Number(options.throughRevision) + 1 };
  for await (const recorded of reader.readStream(groupStream, read)) {
    const event = groupCodec.decode(recorded);
    if (event.type !== 'SignalCorrelated') continue;
    const d = event.data;
    const mine = d.candidateId === candidate.candidateId || (d.outcome === 'counted' && opening.has(d.signalId));
    if (!mine) continue;
    entries.push(entryOf(d));
    if (d.status === 'firing' && d.outcome !== 'repeated') firing.set(d.signalId, firing.get(d.signalId) ?? false);
    if (d.outcome === 'resolved' && firing.has(d.signalId)) firing.set(d.signalId, true);
  }
  const resolved = [...firing.values()].filter(Boolean).length;
  return { groupStream, entries, firing: firing.size, resolved, allResolved: firing.size > 0 && resolved === firing.size };
}

/** Every recorded fact of one alert (by fingerprint), and what correlation did with each. */
export interface FingerprintTrail {
  readonly fingerprint: string;
  readonly facts: ReadonlyArray<{ readonly streamId: string; readonly type: string; readonly fact: SignalFact; readonly rule?: string; readonly correlated?: TrailEntry & { readonly candidateId?: string } }>;
}

/**
 * What became of an alert's signals, the ones that formed no candidate too: its facts in time order
 * (found by scanning the signal streams: an operator's look-up, not a hot path) and, for each, the
 * rule that takes it now and the group's record of it.
 */
export async function fingerprintTrail(reader: EventReader, rules: CorrelationRuleSet, fingerprint: string): Promise<FingerprintTrail> {
  const facts: Array<{ streamId: string; type: string; fact: SignalFact }> = [];
  for await (const recorded of reader.readAll({ streamPrefixes: [SIGNAL_STREAM_PREFIX] })) {
    const fact = factOf(recorded);
    if (fact !== undefined && fact.fingerprint === fingerprint) facts.push({ streamId: recorded.streamId, type: recorded.type, fact });
  }
  facts.sort((a, b) => compare(factTime(a.fact), factTime(b.fact)) || compare(a.streamId, b.streamId));
  const groups = new Map<string, Map<string, SignalCorrelatedData>>();
  const out: Array<FingerprintTrail['facts'][number]> = [];
  for (const item of facts) {
    const rule = ruleFor(rules, item.fact);
    if (rule === undefined || item.type === 'SignalIgnored') {
      out.push(item);
      continue;
    }
    const stream = groupStreamId(groupIdOf(rule.id, rule.version, groupKeyOf(rule, item.fact)));
    let recorded = groups.get(stream);
    if (recorded === undefined) {
      recorded = new Map();
      for await (const event of reader.readStream(stream)) {
        const decoded = groupCodec.decode(event);
        if (decoded.type === 'SignalCorrelated') recorded.set(`${decoded.data.signalStream}`, decoded.data);
      }
      groups.set(stream, recorded);
    }
    const correlated = recorded.get(item.streamId);
    out.push({ ...item, rule: `${rule.id}@${rule.version}`, ...(correlated === undefined ? {} : { correlated: { ...entryOf(correlated), ...(correlated.candidateId === undefined ? {} : { candidateId: correlated.candidateId }) } }) });
  }
  return { fingerprint, facts: out };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function entryOf(d: SignalCorrelatedData): TrailEntry {
  return {
    signalId: d.signalId,
    status: d.status,
    outcome: d.outcome,
    observedAt: d.observedAt,
    ...(d.endsAt === undefined ? {} : { endsAt: d.endsAt }),
    severity: d.severity,
    ...(d.alertname === undefined ? {} : { alertname: d.alertname }),
    late: d.late,
  };
}

function factOf(recorded: RecordedEvent): SignalFact | undefined {
  if (recorded.type !== 'SignalFired' && recorded.type !== 'SignalResolved' && recorded.type !== 'SignalIgnored') return undefined;
  try {
    const event = signalCodec.decode(recorded);
    return event.type === 'SignalRejected' || event.type === 'AlertsTruncated' ? undefined : event.data;
  } catch (error) {
    if (OpxError.is(error)) return undefined;
    throw error;
  }
}
