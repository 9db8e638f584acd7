import { geoNaturalEarth1, geoPath, geoGraticule10 } from "d3-geo";
import { memo, useMemo, useState } from "react";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import land110 from "world-atlas/land-110m.json";
import type { Location, LocationOverview } from "../api/types";
import { levelColor, worstLevel, type Level } from "../lib/severity";

interface Props {
  locations: Location[];
  overview: LocationOverview[];
  selected: string | null;
  onSelect: (name: string) => void;
}

const WIDTH = 960;
const HEIGHT = 500;
const LEVEL_ORDER: Level[] = ["none", "low", "medium", "high"]; // draw worst on top

const topology = land110 as unknown as Topology<{ land: GeometryCollection }>;
const projection = geoNaturalEarth1().fitExtent([[4, 4], [WIDTH - 4, HEIGHT - 4]], { type: "Sphere" });
const path = geoPath(projection);
const LAND_D = path(feature(topology, topology.objects.land)) ?? "";
const SPHERE_D = path({ type: "Sphere" }) ?? "";
const GRATICULE_D = path(geoGraticule10()) ?? "";

/** Offline world map (bundled Natural Earth land, no tiles): one dot per location. */
function WorldMapImpl({ locations, overview, selected, onSelect }: Props) {
  const [hover, setHover] = useState<{ name: string; x: number; y: number; level: Level } | null>(null);
  const byName = useMemo(() => new Map(overview.map((o) => [o.location, o])), [overview]);

  const dots = useMemo(() => {
    const list = locations.flatMap((loc) => {
      const p = projection([loc.longitude, loc.latitude]);
      if (!p) return [];
      const o = byName.get(loc.name);
      const level = worstLevel(o);
      return [{ loc, x: p[0], y: p[1], level, total: o ? o.high + o.medium + o.low : 0 }];
    });
    return list.sort((a, b) => LEVEL_ORDER.indexOf(a.level) - LEVEL_ORDER.indexOf(b.level));
  }, [locations, byName]);

  const counts = useMemo(() => {
    const c: Record<Level, number> = { none: 0, low: 0, medium: 0, high: 0 };
    for (const d of dots) c[d.level] += 1;
    return c;
  }, [dots]);

  const sel = dots.find((d) => d.loc.name === selected);

  return (
    <figure className="map" aria-label="World map of monitored locations">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Map: ${counts.high} locations with high, ${counts.medium} with medium, ${counts.low} with low severity anomalies`}
        onMouseLeave={() => setHover(null)}
      >
        <path d={SPHERE_D} className="map-sphere" />
        <path d={GRATICULE_D} className="map-graticule" />
        <path d={LAND_D} className="map-land" />
        <g>
          {dots.map((d) => (
            <circle
              key={d.loc.id || d.loc.name}
              cx={d.x}
              cy={d.y}
              r={d.level === "none" ? 2.6 : d.level === "low" ? 3.2 : 4.2}
              fill={levelColor(d.level)}
              className="map-dot"
              data-location={d.loc.name}
              data-level={d.level}
              onClick={() => onSelect(d.loc.name)}
              onMouseEnter={() => setHover({ name: d.loc.name, x: d.x, y: d.y, level: d.level })}
            >
              <title>{`${d.loc.name}: ${d.total} anomalies`}</title>
            </circle>
          ))}
        </g>
        {sel && <circle cx={sel.x} cy={sel.y} r={9} className="map-selected" aria-hidden />}
        {hover && (
          <g transform={`translate(${Math.min(hover.x + 8, WIDTH - 160)},${Math.max(hover.y - 10, 14)})`} pointerEvents="none">
            <text className="map-label">{hover.name}</text>
          </g>
        )}
      </svg>
      <figcaption className="map-legend">
        {(["high", "medium", "low", "none"] as Level[]).map((l) => (
          <span key={l} className="legend-item">
            <span className="legend-dot" style={{ background: levelColor(l) }} aria-hidden />
            {l === "none" ? "quiet" : l} <span className="muted">({counts[l]})</span>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export const WorldMap = memo(WorldMapImpl);
export default WorldMap;
