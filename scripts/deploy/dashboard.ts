/**
 * The CloudWatch dashboard, computed from the targets in the config: check success by
 * target, the round's heartbeat and failures, and latency by phase (one graph per phase,
 * a line per target).
 */
import type { ResolvedTarget } from '#shared/report/types.ts';
import { pseudo } from './least-privilege.ts';

export interface DashboardOptions {
  dashboardName: string;
  metricNamespace: string;
  periodSeconds: number;
}

/** The latency metrics the canary publishes, one per phase, in milliseconds. */
export const LATENCY_METRICS = [
  ['AssumeRoleLatency', 'Assume role'],
  ['TokenLatency', 'Token'],
  ['ConnectLatency', 'Connect (TCP, TLS, login)'],
  ['QueryLatency', 'Query'],
  ['TotalLatency', 'Total'],
] as const;

const WIDTH = 24;
const HALF = 12;
const HEIGHT = 6;

/**
 * An `AWS::CloudWatch::Dashboard` resource. The body is a JSON string under `Fn::Sub` so
 * that graphs use the deployment's region (target names cannot contain `${`).
 */
export function buildDashboard(targets: ResolvedTarget[], options: DashboardOptions) {
  const ns = options.metricNamespace;
  const perTarget = (metric: string) => targets.map((t) => [ns, metric, 'Target', t.name]);
  const widgets: unknown[] = [];
  let y = 0;

  widgets.push(
    graph('Check success by target (1 = passed)', perTarget('CheckSuccess'), {
      x: 0,
      y,
      width: WIDTH,
      stat: 'Minimum',
      period: options.periodSeconds,
      yAxis: { left: { min: 0, max: 1 } },
    }),
  );
  y += HEIGHT;

  widgets.push(
    graph(
      'Rounds: heartbeat, targets checked and failed',
      [
        [ns, 'Heartbeat'],
        [ns, 'TargetsChecked'],
        [ns, 'TargetsFailed'],
      ],
      { x: 0, y, width: HALF, stat: 'Sum', period: options.periodSeconds },
    ),
    graph('Rejected logins by target', perTarget('AuthRejected'), {
      x: HALF,
      y,
      width: HALF,
      stat: 'Sum',
      period: options.periodSeconds,
    }),
  );
  y += HEIGHT;

  for (const [i, [metric, label]] of LATENCY_METRICS.entries()) {
    widgets.push(
      graph(`Latency: ${label} (ms, p90)`, perTarget(metric), {
        x: (i % 2) * HALF,
        y: y + Math.floor(i / 2) * HEIGHT,
        width: HALF,
        stat: 'p90',
        period: options.periodSeconds,
      }),
    );
  }

  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: options.dashboardName,
      DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets }) },
    },
  };
}

interface GraphOptions {
  x: number;
  y: number;
  width: number;
  stat: string;
  period: number;
  yAxis?: unknown;
}

function graph(title: string, metrics: unknown[][], o: GraphOptions) {
  return {
    type: 'metric',
    x: o.x,
    y: o.y,
    width: o.width,
    height: HEIGHT,
    properties: {
      title,
      view: 'timeSeries',
      region: pseudo('Region'),
      stat: o.stat,
      period: o.period,
      metrics,
      ...(o.yAxis ? { yAxis: o.yAxis } : {}),
    },
  };
}
