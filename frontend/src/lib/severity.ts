import type { LocationOverview, Severity } from "../api/types";

/** Colour-blind-safe severity palette (enough contrast on white and on the dark theme). */
export const SEVERITY_COLORS: Record<Severity, string> = {
  high: "#d62728",
  medium: "#f28e2b",
  low: "#e8c547",
};
export const QUIET_COLOR = "#5b9bd5";

export type Level = Severity | "none";

export function worstLevel(o: LocationOverview | undefined): Level {
  if (!o) return "none";
  if (o.high > 0) return "high";
  if (o.medium > 0) return "medium";
  if (o.low > 0) return "low";
  return "none";
}

export function levelColor(level: Level): string {
  return level === "none" ? QUIET_COLOR : SEVERITY_COLORS[level];
}
