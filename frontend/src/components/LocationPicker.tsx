import { useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { Location } from "../api/types";
import { indexLocations, searchLocations } from "../lib/search";

interface Props {
  locations: Location[];
  selected: string | null;
  onSelect: (name: string) => void;
  loading?: boolean;
}

/** Accessible combobox (WAI-ARIA 1.2 list autocomplete): type, arrows, Enter, Escape. */
export function LocationPicker({ locations, selected, onSelect, loading = false }: Props) {
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const listId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const index = useMemo(() => indexLocations(locations), [locations]);
  const results = useMemo(() => searchLocations(index, query, 50), [index, query]);

  const choose = (loc: Location | undefined) => {
    if (!loc) return;
    onSelect(loc.name);
    setQuery("");
    setOpen(false);
    inputRef.current?.blur();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, results.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === "Home" && open) {
      setActive(0);
    } else if (e.key === "End" && open) {
      setActive(results.length - 1);
    } else if (e.key === "Enter") {
      if (open) {
        e.preventDefault();
        choose(results[active]);
      }
    } else if (e.key === "Escape") {
      if (open) setOpen(false);
      else setQuery("");
    }
  };

  const activeId = open && results[active] ? `${listId}-opt-${active}` : undefined;

  return (
    <div className="picker">
      <label htmlFor={`${listId}-input`} className="picker-label">
        Location <span className="muted">({locations.length.toLocaleString()} monitored)</span>
      </label>
      <input
        id={`${listId}-input`}
        ref={inputRef}
        type="search"
        role="combobox"
        className="picker-input"
        placeholder={loading ? "Loading locations…" : selected ? `${selected} — type to search` : "Search a city…"}
        autoComplete="off"
        spellCheck={false}
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={activeId}
        value={query}
        disabled={loading && locations.length === 0}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => window.setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKeyDown}
      />
      {open && (
        <ul id={listId} role="listbox" aria-label="Matching locations" className="picker-list">
          {results.length === 0 ? (
            <li className="picker-empty" role="option" aria-selected={false} aria-disabled>
              No location matches “{query}”
            </li>
          ) : (
            results.map((loc, i) => (
              <li
                key={loc.id || loc.name}
                id={`${listId}-opt-${i}`}
                role="option"
                aria-selected={i === active}
                className={`picker-option${i === active ? " active" : ""}${loc.name === selected ? " current" : ""}`}
                onMouseDown={(e) => e.preventDefault()}
                onMouseEnter={() => setActive(i)}
                onClick={() => choose(loc)}
              >
                <span>{loc.name}</span>
                {loc.countryCode && <span className="muted small">{loc.countryCode}</span>}
              </li>
            ))
          )}
        </ul>
      )}
    </div>
  );
}
