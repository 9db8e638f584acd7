import { useEffect, useId, useRef, type ReactNode } from "react";
import { useLatest } from "../hooks/useLatest";

interface Props {
  title: string;
  onClose: () => void;
  children: ReactNode;
}

/**
 * Modal dialog: focus moves in (to a `data-autofocus` element if any), Escape or the backdrop
 * closes, focus returns on close.
 */
export function Modal({ title, onClose, children }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  // Callers pass inline callbacks: keyed on them, the effect would re-run on every parent
  // render and pull focus back to the first control while the user types.
  const close = useLatest(onClose);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("[data-autofocus]")
      ?? ref.current?.querySelector<HTMLElement>("input, button, [tabindex]");
    (first ?? ref.current)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") close.current();
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      previous?.focus?.();
    };
  }, [close]);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close.current()}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={ref} tabIndex={-1}>
        <header className="modal-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="btn btn-ghost" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}
