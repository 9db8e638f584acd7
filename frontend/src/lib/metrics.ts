/** Metric names, labels and units (Open-Meteo defaults), mirroring the server's domain module. */

export const METRIC_UNITS: Record<string, string> = {
  temperature_2m: "°C",
  relative_humidity_2m: "%",
  precipitation: "mm",
  wind_speed_10m: "km/h",
  dew_point_2m: "°C",
  wind_gusts_10m: "km/h",
  pressure_msl: "hPa",
  surface_pressure: "hPa",
  cloud_cover: "%",
  rain: "mm",
  snowfall: "cm",
  apparent_temperature: "°C",
};

export const METRIC_LABELS: Record<string, string> = {
  temperature_2m: "Temperature",
  relative_humidity_2m: "Humidity",
  precipitation: "Precipitation",
  wind_speed_10m: "Wind",
  dew_point_2m: "Dew point",
  wind_gusts_10m: "Wind gusts",
  pressure_msl: "Pressure",
  surface_pressure: "Surface pressure",
  cloud_cover: "Cloud cover",
  rain: "Rain",
  snowfall: "Snowfall",
  apparent_temperature: "Feels-like temperature",
};

/** SEED.md's monitored fields, in the order charts are shown. */
export const DEFAULT_METRICS = [
  "temperature_2m",
  "relative_humidity_2m",
  "precipitation",
  "wind_speed_10m",
  "dew_point_2m",
];

export function metricLabel(metric: string): string {
  return METRIC_LABELS[metric] ?? metric.replace(/_/g, " ");
}

export function metricUnit(metric: string): string {
  return METRIC_UNITS[metric] ?? "";
}

/** Known metrics first in their usual order, then the rest alphabetically. */
export function sortMetrics(metrics: Iterable<string>): string[] {
  const order = (m: string) => {
    const i = DEFAULT_METRICS.indexOf(m);
    return i === -1 ? DEFAULT_METRICS.length : i;
  };
  return [...new Set(metrics)].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
}
