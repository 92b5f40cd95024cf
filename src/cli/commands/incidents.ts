import { Command, Option } from 'commander';

import type { AuthorityType } from '../../authority/authority.js';
import { TOKENS } from '../../container/tokens.js';
import { INCIDENT_STATES, type IncidentAction, type IncidentState } from '../../incidents/incident-events.js';
import { currentReadModels } from '../../projections/live-projection.js';
import type { AlertCounts } from '../../projections/read-models.js';
import { domainId } from '../../shared/ids.js';
import type { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table } from '../output.js';
import type { Action } from './action.js';
import { roleOption } from './candidates.js';

const VERBS: ReadonlyArray<readonly [verb: string, action: IncidentAction, to: string]> = [
  ['ack', 'ACKNOWLEDGE_INCIDENT', 'ACKNOWLEDGED (from OPEN)'],
  ['mitigate', 'MITIGATE_INCIDENT', 'MITIGATED (from ACKNOWLEDGED)'],
  ['resolve', 'RESOLVE_INCIDENT', 'RESOLVED (from ACKNOWLEDGED or MITIGATED)'],
  ['close', 'CLOSE_INCIDENT', 'CLOSED (from RESOLVED; HUMAN_OPERATOR only)'],
];

interface TransitionOptions {
  readonly operator: string;
  readonly role: AuthorityType;
  readonly justification?: string;
}

export function incidentsCommand(action: Action): Command {
  const incidents = new Command('incidents').description('incidents and their lifecycle');
  incidents
    .command('list')
    .description('incidents (from the live projection), oldest first')
    .addOption(new Option('--state <state>', 'only incidents in this state').choices(INCIDENT_STATES))
    .action(action<{ state?: IncidentState }>(async (ctx, _args, o) => list(ctx, o.state)));
  for (const [verb, incidentAction, to] of VERBS) {
    incidents
      .command(verb)
      .description(`move an incident to ${to}; refused (exit 1) from any other state or when your role lacks ${incidentAction}`)
      .argument('<incidentId>')
      .requiredOption('--operator <name>', 'who acts (recorded as the authority id)')
      .option('--justification <text>', 'why (recorded with the transition)', '')
      .addOption(roleOption())
      .action(action<TransitionOptions>(async (ctx, [id], o) => transition(ctx, id as string, incidentAction, o)));
  }
  return incidents;
}

async function list(ctx: CliContext, state: IncidentState | undefined): Promise<ExitCode> {
  const { models } = await currentReadModels(await ctx.store());
  const rows = Object.values(models.incidents)
    .filter((i) => state === undefined || i.state === state)
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.incidentId < b.incidentId ? -1 : 1));
  ctx.output.result({ incidents: rows }, () =>
    rows.length === 0
      ? [state === undefined ? 'no incidents' : `no ${state} incidents`]
      : [
          ...table(
            ['INCIDENT', 'STATE', 'SEVERITY', 'SERVICE', 'ALERTS', 'CREATED', 'UPDATED', 'PROMOTED BY', 'TITLE'],
            rows.map((r) => [r.incidentId, r.state, r.severity, r.service, alertsOf(r.alerts), r.createdAt, r.updatedAt, r.promotedBy, r.title ?? `(candidate ${r.candidateId})`]),
          ),
          `${rows.length} incident${rows.length === 1 ? '' : 's'}`,
        ],
  );
  return EXIT.OK;
}

/** `2 firing`, `1 of 2 resolved`, `all 2 resolved`; `-` for a candidate of the batch correlation. */
export function alertsOf(alerts: AlertCounts | undefined): string {
  if (alerts === undefined) return '-';
  if (alerts.resolved === 0) return `${alerts.firing} firing`;
  return alerts.resolved >= alerts.firing ? `all ${alerts.firing} resolved` : `${alerts.resolved} of ${alerts.firing} resolved`;
}

async function transition(ctx: CliContext, incidentId: string, action: IncidentAction, o: TransitionOptions): Promise<ExitCode> {
  const manager = (await ctx.services()).get(TOKENS.IncidentManager);
  const at = ctx.clock.now().toISOString();
  const incident = await manager.transition(incidentId, {
    action,
    at,
    authority: { authorityType: o.role, authorityId: o.operator, sessionId: domainId('cli', [incidentId, action, o.operator, at]), justification: o.justification ?? '' },
  });
  const last = incident.history.at(-1);
  ctx.output.result({ incidentId, action, from: last?.from ?? null, to: incident.state, by: `${o.role}:${o.operator}`, at }, () => [
    `incident ${incidentId}: ${last?.from ?? '?'} -> ${incident.state} by ${o.role}:${o.operator} at ${at}`,
  ]);
  return EXIT.OK;
}
