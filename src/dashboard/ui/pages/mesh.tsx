// Mesh: the services and routes of the accepted config as a graph
// (src/dashboard/graph.ts builds it, dagre lays it out, SVG draws it):
// gateways, services, subsets; each route an edge with its weight; routes a
// Rollout is walking out in the canary colour, each edge with the weight in
// force now beside Git's (the overlay from GET /api/v1/rollouts). Every
// node is focusable; the same edges are listed as a table below.

import { Graph, layout } from '@dagrejs/dagre';
import { useMemo, useState } from 'preact/hooks';
import { meshGraph, type GraphEdge, type GraphNode } from '../../graph.js';
import { getJson, type ConfigResource, type RolloutStatus } from '../api.js';
import { useData } from '../live.js';
import { ErrorNote, href } from '../ui.js';

const NODE_H = 50;
const KIND_LABEL: Record<GraphNode['kind'], string> = { gateway: 'gateway', service: 'service', subset: 'subset', external: 'external service' };

interface Placed {
  nodes: (GraphNode & { x: number; y: number; w: number; rollout: boolean })[];
  edges: (GraphEdge & { d: string; lx: number; ly: number; text: string; tw: number })[];
  width: number;
  height: number;
}

/** Git's weight for the edge's destination: a single destination is 100%; one Git does not name has none. */
const gitWeight = (e: GraphEdge): string => (e.notInGit ? 'none' : `${e.weight ?? 100}%`);

export function edgeText(e: GraphEdge): string {
  if (!e.route) return '';
  if (e.mirror !== undefined) return `${e.route}: mirror ${e.mirror}%`;
  // Where a Rollout's overlay replaces the route, what runs now differs from what Git states: both, side by side.
  if (e.inForce !== undefined) return `${e.route}: now ${e.inForce}% · Git ${gitWeight(e)}`;
  return e.weight !== undefined ? `${e.route} ${e.weight}%` : e.route;
}

let measure: CanvasRenderingContext2D | null | undefined;
/** The label's width as the browser will draw it (graph labels are 11px, bold on a rollout). */
function textWidth(text: string, bold: boolean): number {
  measure ??= document.createElement('canvas').getContext('2d');
  if (!measure) return text.length * 7;
  measure.font = `${bold ? '700 ' : ''}11px ${getComputedStyle(document.body).fontFamily}`;
  return Math.ceil(measure.measureText(text).width);
}

function place(nodes: GraphNode[], edges: GraphEdge[]): Placed {
  const g = new Graph({ multigraph: true });
  // Left to right reads like a request. (Top to bottom is no narrower: dagre puts unconnected parts side by side.)
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 90, edgesep: 14, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const width = (n: GraphNode) => Math.min(340, Math.max(120, Math.max(n.label.length, (n.detail ?? '').length * 0.85) * 7 + 24));
  for (const n of nodes) g.setNode(n.id, { width: width(n), height: NODE_H });
  const widths = new Map(edges.map((e) => [e.id, textWidth(edgeText(e), !!e.rollout)]));
  for (const e of edges) g.setEdge(e.from, e.to, { width: widths.get(e.id)! + 12, height: edgeText(e) ? 16 : 0, labelpos: 'c' }, e.id);
  layout(g);
  const rolloutNodes = new Set(edges.filter((e) => e.rollout).flatMap((e) => [e.to]));
  const placedNodes = nodes.map((n) => {
    const p = g.node(n.id) as { x: number; y: number; width: number };
    return { ...n, x: p.x, y: p.y, w: p.width, rollout: rolloutNodes.has(n.id) };
  });
  const placedEdges = edges.map((e) => {
    const l = g.edge({ v: e.from, w: e.to, name: e.id }) as { points: { x: number; y: number }[]; x?: number; y?: number };
    const pts = l.points;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    const mid = pts[Math.floor(pts.length / 2)]!;
    return { ...e, d, lx: l.x ?? mid.x, ly: l.y ?? mid.y, text: edgeText(e), tw: widths.get(e.id)! };
  });
  const gl = g.graph() as { width?: number; height?: number };
  return { nodes: placedNodes, edges: placedEdges, width: Math.ceil(gl.width ?? 400), height: Math.ceil(gl.height ?? 300) };
}

export function MeshPage() {
  const d = useData(
    async (s) => {
      const [config, rollouts] = await Promise.all([getJson<{ revisions: string[]; resources: ConfigResource[] }>('/api/v1/config', s), getJson<{ rollouts: RolloutStatus[] }>('/api/v1/rollouts', s)]);
      return { config, rollouts: rollouts.rollouts };
    },
    [],
    (e) => e === 'source' || e === 'rollout',
  );
  const [ns, setNs] = useState('');
  const [selected, setSelected] = useState<string | undefined>();
  const namespaces = useMemo(() => [...new Set((d.data?.config.resources ?? []).map((r) => r.namespace).filter(Boolean))].sort(), [d.data]);
  const graph = useMemo(() => {
    if (!d.data) return undefined;
    const mc = d.data.config.resources.find((r) => r.kind === 'MeshConfig');
    const domain = ((mc?.resource.spec ?? {}) as { clusterDomain?: unknown }).clusterDomain;
    const resources = d.data.config.resources.filter((r) => !ns || r.namespace === ns);
    const g = meshGraph(resources, d.data.rollouts, typeof domain === 'string' ? domain : undefined);
    return g.nodes.length ? place(g.nodes, g.edges) : undefined;
  }, [d.data, ns]);
  const sel = graph?.nodes.find((n) => n.id === selected);
  return (
    <>
      <h1>Mesh</h1>
      <ErrorNote error={d.error} />
      <div class="toolbar">
        <label class="field">
          Namespace
          <select value={ns} onChange={(e) => setNs((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all</option>
            {namespaces.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <span class="legend" style={{ marginTop: 0 }}>
          <span>
            <i style={{ background: 'var(--warn)' }} />
            gateway
          </span>
          <span>
            <i style={{ background: 'var(--stable)' }} />
            service
          </span>
          <span>
            <i style={{ background: 'var(--muted)' }} />
            subset (dashed: no route leads there)
          </span>
          <span>
            <i style={{ background: 'var(--canary)' }} />
            rollout: weight now · Git's (line as thick as the share now)
          </span>
          <span>dashed edge: route with match conditions</span>
        </span>
      </div>
      {graph && <p class="muted show-narrow">The graph scrolls sideways; the table below lists every route.</p>}
      <div class="graph" role="region" tabIndex={graph ? 0 : undefined} aria-label="mesh graph (scrolls)" style={{ height: graph ? `${Math.min(graph.height + 4, 720)}px` : '320px' }}>
        {graph && (
          <svg width={graph.width} height={graph.height} viewBox={`0 0 ${graph.width} ${graph.height}`} role="group" aria-label={`mesh graph: ${graph.nodes.length} nodes, ${graph.edges.length} edges`}>
            <defs>
              <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse">
                <path d="M0,0 L10,5 L0,10 z" />
              </marker>
              <marker id="arrow-rollout" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse">
                <path d="M0,0 L10,5 L0,10 z" />
              </marker>
            </defs>
            {graph.edges.map((e) => (
              <path
                key={e.id}
                class={`edge${e.matched ? ' matched' : ''}${e.rollout ? ' rollout' : ''}${e.mirror !== undefined ? ' mirror' : ''}${e.route ? '' : ' structure'}`}
                d={e.d}
                // On a route being walked out, the line is as thick as the share it carries now.
                style={e.inForce !== undefined ? { strokeWidth: `${(1.5 + (3 * e.inForce) / 100).toFixed(2)}px` } : undefined}
                marker-end={e.route ? (e.rollout ? 'url(#arrow-rollout)' : 'url(#arrow)') : undefined}
                data-edge={e.id}
              />
            ))}
            {graph.edges
              .filter((e) => e.text)
              .map((e) => {
                // A panel-coloured box behind the label keeps the edge from showing through it.
                const label = (
                  <g key={`l-${e.id}`}>
                    <rect class="elabel-bg" x={e.lx - e.tw / 2 - 4} y={e.ly - 8} width={e.tw + 8} height={16} rx={3} />
                    <text class={`elabel${e.rollout ? ' rollout' : ''}`} x={e.lx} y={e.ly + 4} text-anchor="middle" data-in-force={e.inForce} data-git={e.inForce !== undefined ? gitWeight(e) : undefined}>
                      {e.text}
                    </text>
                  </g>
                );
                return e.rollout ? (
                  <a key={`l-${e.id}`} href={href('rollouts', ...e.rollout.split('/'))} aria-label={`${e.text}: Rollout ${e.rollout}, canary ${e.canaryWeight}%`}>
                    <title>{`Rollout ${e.rollout}, canary weight ${e.canaryWeight}%`}</title>
                    {label}
                  </a>
                ) : (
                  label
                );
              })}
            {graph.nodes.map((n) => (
              <g
                key={n.id}
                class={`node ${n.kind}${n.unrouted ? ' unrouted' : ''}${n.rollout ? ' rollout' : ''}${selected === n.id ? ' selected' : ''}`}
                transform={`translate(${n.x - n.w / 2},${n.y - NODE_H / 2})`}
                // SVG attributes are case-sensitive: `tabindex`, not `tabIndex`.
                tabindex={0}
                role="button"
                aria-pressed={selected === n.id}
                aria-label={`${KIND_LABEL[n.kind]} ${n.label}${n.detail ? `, ${n.detail}` : ''}${n.rollout ? ', rollout in flight' : ''}`}
                data-node={n.id}
                onClick={() => setSelected(n.id === selected ? undefined : n.id)}
                onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), setSelected(n.id === selected ? undefined : n.id))}
              >
                {/* The whole name on hover; the box shortens a long one. */}
                <title>{`${KIND_LABEL[n.kind]} ${n.label}${n.detail ? `\n${n.detail}` : ''}`}</title>
                <rect width={n.w} height={NODE_H} rx={8} />
                <text class="kind" x={10} y={14}>
                  {KIND_LABEL[n.kind]}
                </text>
                <text x={10} y={30}>
                  {n.label.length > 44 ? `${n.label.slice(0, 43)}…` : n.label}
                </text>
                {n.detail && (
                  <text class="detail" x={10} y={43}>
                    {n.detail.length > 48 ? `${n.detail.slice(0, 47)}…` : n.detail}
                  </text>
                )}
              </g>
            ))}
          </svg>
        )}
        {!graph && d.data && <p class="muted" style={{ padding: '16px' }}>Nothing to draw: no gateway, service or route in {ns ? `namespace ${ns}` : 'the accepted config'}.</p>}
      </div>
      {sel && (
        <div class="card" style={{ marginTop: '12px' }} role="region" aria-label="selected node" aria-live="polite">
          <strong>
            {KIND_LABEL[sel.kind]} {sel.label}
          </strong>
          {sel.detail && <span class="muted"> · {sel.detail}</span>}
          <ul>
            {graph!.edges
              .filter((e) => e.route && (e.from === sel.id || e.to === sel.id))
              .map((e) => (
                <li key={e.id}>
                  {e.from === sel.id ? 'to' : 'from'} {graph!.nodes.find((n) => n.id === (e.from === sel.id ? e.to : e.from))?.label}: VirtualService {e.virtualService} route {e.text}
                </li>
              ))}
          </ul>
        </div>
      )}
      <h2>Routes</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>VirtualService</th>
              <th>Route</th>
              <th>From</th>
              <th>To</th>
              <th>Git</th>
              <th>In force</th>
              <th>Rollout</th>
            </tr>
          </thead>
          <tbody>
            {(graph?.edges ?? [])
              .filter((e) => e.route)
              .map((e) => (
                <tr key={e.id} data-route={`${e.virtualService}/${e.route}`}>
                  <td>{e.virtualService}</td>
                  <td>
                    {e.route}
                    {e.matched ? <span class="muted"> (match)</span> : ''}
                  </td>
                  <td class="wrap">{graph!.nodes.find((n) => n.id === e.from)?.label}</td>
                  <td class="wrap">
                    {e.to.startsWith('sub:') ? e.to.slice(4) : graph!.nodes.find((n) => n.id === e.to)?.label}
                  </td>
                  <td>{gitWeight(e)}</td>
                  <td data-in-force={e.inForce}>{e.mirror !== undefined ? `mirror ${e.mirror}%` : e.inForce !== undefined ? <strong>{e.inForce}%</strong> : gitWeight(e)}</td>
                  <td>{e.rollout ? <a href={href('rollouts', ...e.rollout.split('/'))}>{`${e.rollout} · canary ${e.canaryWeight}%`}</a> : '–'}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
