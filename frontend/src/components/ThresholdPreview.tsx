import type { Series } from "../api/types";
import { formatValue } from "../lib/format";

interface Props {
  series: Series | undefined;
  threshold: number;
  operator: string;
  width?: number;
  height?: number;
}

/** Sparkline of the recent series with the threshold line; the firing side is shaded. */
export function ThresholdPreview({ series, threshold, operator, width = 220, height = 56 }: Props) {
  const values = series?.values.filter((v) => Number.isFinite(v)) ?? [];
  if (!series || values.length < 2) {
    return <div className="preview preview-empty muted small">no recent data</div>;
  }
  const lo = Math.min(...values, threshold);
  const hi = Math.max(...values, threshold);
  const pad = (hi - lo) * 0.1 || 1;
  const y = (v: number) => height - 2 - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * (height - 4);
  const n = series.values.length;
  const x = (i: number) => (i / (n - 1)) * width;
  let d = "";
  series.values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    d += `${d === "" ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
  });
  const above = operator.startsWith(">");
  const ty = y(threshold);
  const crossings = series.values.filter((v) => (above ? v > threshold : v < threshold)).length;
  return (
    <svg
      className="preview"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Threshold ${operator} ${formatValue(threshold, series.metric)}: ${crossings} of ${n} recent samples beyond it`}
    >
      <rect x={0} y={above ? 0 : ty} width={width} height={above ? ty : height - ty} className="preview-zone" />
      <path d={d} className="preview-line" />
      <line x1={0} x2={width} y1={ty} y2={ty} className="preview-threshold" />
    </svg>
  );
}
