import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Anomaly, Series, Severity } from "../api/types";
import { axisTimeLabels, formatDateTime, formatValue } from "../lib/format";
import { metricLabel } from "../lib/metrics";
import { buildChartData, MARKER_SEVERITIES, yRange } from "../lib/chartData";
import { SEVERITY_COLORS } from "../lib/severity";
import { useLatest } from "../hooks/useLatest";

interface Props {
  series: Series;
  anomalies: Anomaly[];
  timeZone: string;
  height?: number;
  onOpenAnomaly?: (anomaly: Anomaly) => void;
}

function hasBand(series: Series): boolean {
  return series.lower.some((v) => v !== null) && series.upper.some((v) => v !== null);
}

export function MetricChart({ series, anomalies, timeZone, height = 200, onOpenAnomaly }: Props) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const [tip, setTip] = useState<{ anomaly: Anomaly; left: number; top: number; flip: boolean } | null>(null);
  const { data, atIndex } = useMemo(() => buildChartData(series, anomalies), [series, anomalies]);
  const openRef = useLatest(onOpenAnomaly);
  const hoverRef = useRef<Anomaly | null>(null);
  const band = hasBand(series);
  const label = metricLabel(series.metric);

  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const range = yRange(series);
    const marker = (sev: Severity): uPlot.Series => ({
      label: `${sev} anomaly`,
      stroke: SEVERITY_COLORS[sev],
      paths: () => null,
      points: { show: true, size: sev === "high" ? 11 : 9, fill: SEVERITY_COLORS[sev], stroke: "#1b1f24", width: 1 },
    });
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: () => range } },
      axes: [
        {
          stroke: "#4a5560",
          grid: { stroke: "#e6e9ed" },
          ticks: { stroke: "#d0d5da" },
          values: (_u, splits) => axisTimeLabels(splits, timeZone),
          space: 60,
        },
        {
          stroke: "#4a5560",
          grid: { stroke: "#e6e9ed" },
          ticks: { stroke: "#d0d5da" },
          size: 56,
          values: (_u, vals) => vals.map((v) => `${+v.toFixed(1)}`),
          label: series.unit,
          labelSize: 16,
        },
      ],
      series: [
        {},
        { label, stroke: "#1f6feb", width: 1.6, spanGaps: false, points: { show: false } },
        { label: "expected low", stroke: "rgba(80,140,90,0.5)", width: 0.5, show: band, points: { show: false } },
        { label: "expected high", stroke: "rgba(80,140,90,0.5)", width: 0.5, show: band, points: { show: false } },
        { label: "expected", stroke: "rgba(60,120,70,0.8)", width: 1, dash: [4, 4], show: band, points: { show: false } },
        ...MARKER_SEVERITIES.map(marker),
      ],
      bands: band ? [{ series: [3, 2], fill: "rgba(80,160,100,0.14)" }] : [],
      hooks: {
        setCursor: [
          (u) => {
            const left = u.cursor.left ?? -1;
            if (left < 0) {
              hoverRef.current = null;
              setTip(null);
              return;
            }
            let best: { a: Anomaly; d: number; x: number; y: number } | null = null;
            for (const [i, a] of atIndex) {
              const x = u.valToPos(data[0][i] ?? 0, "x");
              const d = Math.abs(x - left);
              if (d <= 10 && (!best || d < best.d)) best = { a, d, x, y: u.valToPos(a.value, "y") };
            }
            hoverRef.current = best?.a ?? null;
            setTip(best ? { anomaly: best.a, left: best.x + u.over.offsetLeft, top: best.y + u.over.offsetTop, flip: best.x > u.over.clientWidth * 0.55 } : null);
          },
        ],
      },
    };
    const plot = new uPlot(opts, data, el);
    plotRef.current = plot;
    const over = plot.over;
    const onClick = () => {
      if (hoverRef.current) openRef.current?.(hoverRef.current);
    };
    over.addEventListener("click", onClick);
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      over.removeEventListener("click", onClick);
      plot.destroy();
      plotRef.current = null;
    };
  }, [data, atIndex, height, timeZone, band, label, series, openRef]);

  const count = atIndex.size;
  const last = series.values.length > 0 ? series.values[series.values.length - 1] : undefined;
  const lastTime = series.times.length > 0 ? series.times[series.times.length - 1] : undefined;

  return (
    <figure className="chart" data-metric={series.metric} aria-label={`${label} chart`}>
      <figcaption className="chart-head">
        <h3>{label}</h3>
        <span className="chart-now">
          {last !== undefined ? formatValue(last, series.metric) : "–"}
          {lastTime !== undefined && <span className="muted small"> at {formatDateTime(lastTime, timeZone)}</span>}
        </span>
        <span className={`chart-count${count > 0 ? " has" : ""}`} data-testid="anomaly-count">
          {count} {count === 1 ? "anomaly" : "anomalies"}
        </span>
      </figcaption>
      <div className="chart-plot" ref={wrapRef} style={{ minHeight: height }}>
        {tip && (
          <div
            className={`chart-tip${tip.flip ? " flip" : ""}`}
            role="tooltip"
            style={{ left: tip.left, top: tip.top }}
          >
            <strong className={`sev sev-${tip.anomaly.severity}`}>{tip.anomaly.severity}</strong>{" "}
            {formatDateTime(tip.anomaly.time, timeZone)}
            <br />
            value <b>{formatValue(tip.anomaly.value, series.metric)}</b>, expected{" "}
            {formatValue(tip.anomaly.expected, series.metric)}
            {tip.anomaly.lower !== null && tip.anomaly.upper !== null && (
              <> ({formatValue(tip.anomaly.lower, series.metric)} … {formatValue(tip.anomaly.upper, series.metric)})</>
            )}
            <br />
            score {tip.anomaly.score.toFixed(2)} · {tip.anomaly.methods.join(", ") || "—"}
            <br />
            <span className="muted small">click for details</span>
          </div>
        )}
      </div>
      <p className="sr-only">
        {label}: {series.values.length} samples, {count} anomalies flagged.{" "}
        {band ? "Shaded area: expected range." : ""}
      </p>
    </figure>
  );
}
export default MetricChart;
