/** Type-ahead ranking over location names: prefix beats word-prefix beats substring; accents ignored. */

import type { Location } from "../api/types";

export function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();
}

export interface IndexedLocation {
  location: Location;
  folded: string;
}

export function indexLocations(locations: Location[]): IndexedLocation[] {
  return locations
    .map((location) => ({ location, folded: fold(`${location.name} ${location.countryCode}`) }))
    .sort((a, b) => a.location.name.localeCompare(b.location.name));
}

export function searchLocations(index: IndexedLocation[], query: string, limit = 50): Location[] {
  const q = fold(query.trim());
  if (q === "") return index.slice(0, limit).map((i) => i.location);
  const ranked: { rank: number; location: Location }[] = [];
  for (const item of index) {
    const at = item.folded.indexOf(q);
    if (at === -1) continue;
    const rank = at === 0 ? 0 : /[\s,\-'(]/.test(item.folded[at - 1] ?? "") ? 1 : 2;
    ranked.push({ rank, location: item.location });
  }
  ranked.sort((a, b) => a.rank - b.rank || a.location.name.localeCompare(b.location.name));
  return ranked.slice(0, limit).map((r) => r.location);
}
