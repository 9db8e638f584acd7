import { useState } from "react";
import type { RangeKey } from "../hooks/useUrlState";
import { fromLocalInput, toLocalInput } from "../lib/format";

interface Props {
  now: number;
  range: RangeKey;
  since: number | null;
  until: number | null;
  onChange: (range: RangeKey, since: number | null, until: number | null) => void;
}

const PRESETS: { key: Exclude<RangeKey, "custom">; label: string }[] = [
  { key: "24h", label: "24 h" },
  { key: "3d", label: "3 d" },
  { key: "7d", label: "7 d" },
];

export function RangeSelector({ now: nowS, range, since, until, onChange }: Props) {
  const now = Math.floor(nowS);
  const [from, setFrom] = useState(toLocalInput(since ?? now - 2 * 86400));
  const [to, setTo] = useState(toLocalInput(until ?? now));
  const [showCustom, setShowCustom] = useState(range === "custom");
  const fromS = fromLocalInput(from);
  const toS = fromLocalInput(to);
  const valid = fromS !== null && toS !== null && fromS < toS;

  return (
    <div className="range">
      <div role="group" aria-label="Time range" className="seg">
        {PRESETS.map((p) => (
          <button
            key={p.key}
            type="button"
            className={`seg-btn${range === p.key ? " on" : ""}`}
            aria-pressed={range === p.key}
            onClick={() => {
              setShowCustom(false);
              onChange(p.key, null, null);
            }}
          >
            {p.label}
          </button>
        ))}
        <button
          type="button"
          className={`seg-btn${range === "custom" ? " on" : ""}`}
          aria-pressed={range === "custom"}
          aria-expanded={showCustom}
          onClick={() => setShowCustom((s) => !s)}
        >
          Custom
        </button>
      </div>
      {showCustom && (
        <form
          className="range-custom"
          onSubmit={(e) => {
            e.preventDefault();
            if (valid) onChange("custom", fromS, toS);
          }}
        >
          <label>
            From (UTC) <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            To (UTC) <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <button type="submit" className="btn btn-small" disabled={!valid}>
            Apply
          </button>
          {!valid && <span className="error small">“From” must be before “To”.</span>}
        </form>
      )}
    </div>
  );
}
