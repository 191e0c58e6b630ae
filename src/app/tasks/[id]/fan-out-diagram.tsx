// The fan-out group as a picture: the parent on top, the tasks it fanned out in the middle, the
// aggregators that join them at the bottom, each coloured by status. Plain SVG, server-rendered;
// live updates re-render it.
import { statusStyles } from '@/components/status-badge';
import type { TaskNode } from '@/features/tasks/queries';

const NODE_W = 176;
const NODE_H = 54;
const GAP_X = 18;
const ROW_GAP = 56;
const PAD = 12;

function truncate(text: string, max: number) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function Node({ node, x, y, current }: { node: TaskNode; x: number; y: number; current: boolean }) {
  const style = statusStyles[node.status] ?? statusStyles.queued;
  const kind = node.dependent_task_ids.length > 0 ? 'aggregator' : node.is_parallel_task ? 'parallel' : 'task';
  return (
    <a href={`/tasks/${node.id}`} aria-label={`${node.title} (${kind}, ${style.label})`} data-node-id={node.id} data-node-status={node.status}>
      <title>{`${node.title} — ${style.label}`}</title>
      <rect
        x={x}
        y={y}
        width={NODE_W}
        height={NODE_H}
        rx={8}
        fill={style.fill}
        stroke={style.stroke}
        strokeWidth={current ? 3 : 1.25}
        strokeDasharray={node.status === 'queued' ? '5 3' : undefined}
      />
      <text x={x + 10} y={y + 21} fontSize={13} fontWeight={600} fill="#0f172a">
        {truncate(node.title, 22)}
      </text>
      <text x={x + 10} y={y + 40} fontSize={11} fill="#334155">
        {`${kind} · ${style.label}`}
      </text>
    </a>
  );
}

export function FanOutDiagram({ parent, childNodes, currentId }: { parent: TaskNode; childNodes: TaskNode[]; currentId: string }) {
  const aggregators = childNodes.filter((n) => n.dependent_task_ids.length > 0);
  const workers = childNodes.filter((n) => n.dependent_task_ids.length === 0);
  const columns = Math.max(workers.length, aggregators.length, 1);
  const width = PAD * 2 + columns * NODE_W + (columns - 1) * GAP_X;
  const rows = aggregators.length > 0 ? 3 : 2;
  const height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP;
  const rowX = (count: number, i: number) => {
    const rowWidth = count * NODE_W + (count - 1) * GAP_X;
    return (width - rowWidth) / 2 + i * (NODE_W + GAP_X);
  };
  const parentPos = { x: rowX(1, 0), y: PAD };
  const workerY = PAD + NODE_H + ROW_GAP;
  const aggregatorY = workerY + NODE_H + ROW_GAP;
  const workerPos = new Map(workers.map((n, i) => [n.id, { x: rowX(workers.length, i), y: workerY }]));

  const ended = workers.filter((n) => n.status === 'completed' || n.status === 'cancelled').length;
  return (
    <figure>
      <div className="overflow-x-auto rounded-md bg-white ring-1 ring-slate-200">
        <svg
          role="group"
          aria-label={`Fan-out of ${parent.title}`}
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          className="mx-auto block"
          data-testid="fan-out"
        >
          <g stroke="#94a3b8" strokeWidth={1.25} fill="none">
            {workers.map((n) => {
              const p = workerPos.get(n.id)!;
              return <line key={`p-${n.id}`} x1={parentPos.x + NODE_W / 2} y1={parentPos.y + NODE_H} x2={p.x + NODE_W / 2} y2={p.y} />;
            })}
            {aggregators.map((a, i) => {
              const ax = rowX(aggregators.length, i) + NODE_W / 2;
              return a.dependent_task_ids.map((dep) => {
                const p = workerPos.get(dep);
                return p ? <line key={`${a.id}-${dep}`} x1={p.x + NODE_W / 2} y1={p.y + NODE_H} x2={ax} y2={aggregatorY} /> : null;
              });
            })}
          </g>
          <Node node={parent} x={parentPos.x} y={parentPos.y} current={parent.id === currentId} />
          {workers.map((n) => {
            const p = workerPos.get(n.id)!;
            return <Node key={n.id} node={n} x={p.x} y={p.y} current={n.id === currentId} />;
          })}
          {aggregators.map((a, i) => (
            <Node key={a.id} node={a} x={rowX(aggregators.length, i)} y={aggregatorY} current={a.id === currentId} />
          ))}
        </svg>
      </div>
      <figcaption className="mt-2 text-sm text-slate-600" data-testid="fan-out-progress">
        {workers.length > 0 ? `${ended} of ${workers.length} fanned-out tasks ended` : 'No fanned-out tasks yet'}
        {aggregators.map((a) => `; aggregator “${a.title}” is ${statusStyles[a.status]?.label ?? a.status}`).join('')}.
      </figcaption>
    </figure>
  );
}
