import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, downloadAlarmExport, isAuthError, setToken } from "./api/client";
import type { Alarm, Anomaly, AnomalyStatus, Silence, Suggestion, SuggestionStatus } from "./api/types";
import { AlarmsList } from "./components/AlarmsList";
import { AnomaliesTable } from "./components/AnomaliesTable";
import { AnomalyDetail } from "./components/AnomalyDetail";
import { LocationPicker } from "./components/LocationPicker";
import { MetricChart } from "./components/MetricChart";
import { RangeSelector } from "./components/RangeSelector";
import { Empty, ErrorState, Loading } from "./components/States";
import { SuggestionsList } from "./components/SuggestionsList";
import { SystemStatus } from "./components/SystemStatus";
import { TokenDialog } from "./components/TokenDialog";
import { useAsync } from "./hooks/useAsync";
import { useEventStream, type LiveEvent } from "./hooks/useEventStream";
import { useLatest } from "./hooks/useLatest";
import { useNow } from "./hooks/useNow";
import { useReadAccess } from "./hooks/useReadAccess";
import { RANGE_HOURS, useUrlState, type UrlState } from "./hooks/useUrlState";
import { formatAgo, formatClock, formatUtcOffset } from "./lib/format";
import { metricLabel, sortMetrics } from "./lib/metrics";

// Start fetching the map's chunk (d3-geo + Natural Earth land) at once, in parallel with the data.
const worldMapChunk = import("./components/WorldMap");
const WorldMap = lazy(() => worldMapChunk);

const OVERVIEW_HOURS = 24;
const ALARM_POLL_MS = 30_000;
const ANOMALY_LIMIT = 1000; // the server caps limit at server.max_limit (default 1000)

interface PendingWrite {
  message: string;
  retry: () => Promise<void>;
}

function rangeOf(state: UrlState) {
  if (state.range === "custom" && state.since !== null) {
    return state.until === null ? { since: state.since } : { since: state.since, until: state.until };
  }
  return { hours: RANGE_HOURS[state.range === "custom" ? "24h" : state.range] };
}

/** Call `fn` after `ms` of quiet (coalesces bursts of live events into one reload). */
function useDebounced(fn: () => void, ms: number): () => void {
  const timer = useRef<number | null>(null);
  const ref = useLatest(fn);
  useEffect(() => () => { if (timer.current !== null) window.clearTimeout(timer.current); }, []);
  return useCallback(() => {
    if (timer.current !== null) window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => ref.current(), ms);
  }, [ms, ref]);
}

export function App() {
  const [url, setUrl] = useUrlState();
  const now = useNow(15);
  const range = rangeOf(url);
  const rangeKey = JSON.stringify(range);

  const locations = useAsync((s) => api.locations(s), []);
  const health = useAsync((s) => api.health(s), []);
  const overview = useAsync((s) => api.overview(OVERVIEW_HOURS, s), []);
  const location = useMemo(
    () => locations.data?.find((l) => l.name === url.location) ?? null,
    [locations.data, url.location],
  );
  const locName = url.location;
  const metrics = useAsync(locName ? (s) => api.metrics(locName, range, s) : null, [locName, rangeKey]);
  const anomalies = useAsync(
    locName ? (s) => api.anomalies(locName, ANOMALY_LIMIT, s) : null,
    [locName],
  );
  const suggestions = useAsync(locName ? (s) => api.suggestions(locName, s) : null, [locName]);
  const alarms = useAsync(locName ? (s) => api.alarms(locName, s) : null, [locName]);
  const silences = useAsync(locName ? (s) => api.silences(s) : null, [locName]);
  const readAccess = useReadAccess([locations, health, overview, metrics, anomalies, suggestions, alarms, silences]);

  const [anomalyStatus, setAnomalyStatus] = useState<Map<number, AnomalyStatus>>(new Map());
  const [suggestionStatus, setSuggestionStatus] = useState<Map<number, SuggestionStatus>>(new Map());
  const [openAnomaly, setOpenAnomaly] = useState<Anomaly | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const [pending, setPending] = useState<PendingWrite | null>(null);
  const [notices, setNotices] = useState<{ id: number; text: string; tone: "info" | "error" }[]>([]);
  const noticeId = useRef(0);

  const notify = useCallback((text: string, tone: "info" | "error" = "info") => {
    const id = ++noticeId.current;
    setNotices((n) => [...n.slice(-3), { id, text, tone }]);
    window.setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 6000);
  }, []);

  // Live updates: reload what an event touches, coalescing bursts.
  const reloadLocation = useDebounced(() => { anomalies.reload(); metrics.reload(); }, 800);
  const reloadSuggestions = useDebounced(() => suggestions.reload(), 800);
  const reloadAlarms = useDebounced(() => { alarms.reload(); silences.reload(); }, 800);
  const reloadOverview = useDebounced(() => overview.reload(), 4000);
  const reloadHealth = useDebounced(() => health.reload(), 2000);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      const loc = typeof e.data.location === "string" ? e.data.location : null;
      const mine = loc === null || loc === locName;
      if (e.type.startsWith("anomal")) {
        reloadOverview();
        if (mine && locName) {
          reloadLocation();
          if (loc && e.type === "anomaly") notify(`New ${String(e.data.severity ?? "")} anomaly: ${metricLabel(String(e.data.metric_type ?? ""))} in ${loc}`);
        }
      } else if (e.type.startsWith("suggestion") && mine && locName) {
        reloadSuggestions();
        if (e.data.status === "accepted") reloadAlarms();
      } else if (e.type.startsWith("alarm") && mine && locName) {
        reloadAlarms(); // a state change of one of this location's alarms
      } else if (e.type === "heartbeat") {
        reloadHealth();
      }
      if (e.type === "suggestion" && typeof e.data.id === "number" && typeof e.data.status === "string") {
        const id = e.data.id;
        const status = e.data.status as SuggestionStatus;
        setSuggestionStatus((m) => new Map(m).set(id, status));
      }
    },
    [locName, notify, reloadLocation, reloadOverview, reloadSuggestions, reloadAlarms, reloadHealth],
  );
  const live = useEventStream(onEvent);

  // Fallback polling: health every 30 s, the selected series every 5 min (one collect).
  useEffect(() => {
    const h = window.setInterval(() => health.reload(), 30_000);
    const m = window.setInterval(() => { if (locName) metrics.reload(); }, 300_000);
    return () => { window.clearInterval(h); window.clearInterval(m); };
  }, [health.reload, metrics.reload, locName]); // eslint-disable-line react-hooks/exhaustive-deps

  // State changes arrive as alarm events; while the tab is open a 30 s poll also catches what
  // events do not carry (a silence running out) and a broken stream. Opening the tab refreshes
  // at once (the first load, with the page, is fresh already).
  const alarmsTabOpen = url.tab === "alarms" && locName !== null;
  const mounted = useRef(false);
  useEffect(() => {
    const fresh = !mounted.current;
    mounted.current = true;
    if (!alarmsTabOpen) return;
    if (!fresh) { alarms.reload(); silences.reload(); }
    const id = window.setInterval(() => { alarms.reload(); silences.reload(); }, ALARM_POLL_MS);
    return () => window.clearInterval(id);
  }, [alarmsTabOpen]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    document.title = locName ? `${locName} · Preempt` : "Preempt";
  }, [locName]);

  /** Run a write; on 401/403 ask for a token and retry with it. */
  const write = useCallback(
    async (id: number, action: () => Promise<void>, done: () => void) => {
      const attempt = async (): Promise<void> => {
        setBusy(id);
        try {
          await action();
          done();
        } catch (err) {
          if (isAuthError(err)) {
            setPending({ message: err.message, retry: attempt });
          } else {
            notify(`Could not save: ${err instanceof Error ? err.message : String(err)}`, "error");
          }
        } finally {
          setBusy(null);
        }
      };
      await attempt();
    },
    [notify],
  );

  const anomalyList = useMemo(
    () => (anomalies.data?.items ?? []).map((a) => {
      const st = anomalyStatus.get(a.id);
      return st ? { ...a, status: st } : a;
    }),
    [anomalies.data, anomalyStatus],
  );
  const suggestionList = useMemo(
    () => (suggestions.data ?? []).map((s) => {
      const st = suggestionStatus.get(s.id);
      return st ? { ...s, status: st } : s;
    }),
    [suggestions.data, suggestionStatus],
  );

  const onFeedback = (a: Anomaly, status: Exclude<AnomalyStatus, "new">) =>
    void write(a.id, () => api.anomalyFeedback(a.id, status), () => {
      setAnomalyStatus((m) => new Map(m).set(a.id, status));
      setOpenAnomaly((o) => (o && o.id === a.id ? { ...o, status } : o));
      notify(status === "confirmed" ? "Anomaly confirmed" : "Marked as false positive");
    });
  const onAccept = (s: Suggestion) =>
    void write(s.id, () => api.acceptSuggestion(s.id), () => {
      setSuggestionStatus((m) => new Map(m).set(s.id, "accepted"));
      alarms.reload();
      notify(`Alarm created: ${metricLabel(s.metric)} ${s.operator} ${s.threshold}`);
    });
  const onDismiss = (s: Suggestion, reason: string) =>
    void write(s.id, () => api.dismissSuggestion(s.id, reason.trim() || "Not useful (dismissed in the dashboard)"), () => {
      setSuggestionStatus((m) => new Map(m).set(s.id, "dismissed"));
      notify("Suggestion dismissed");
    });

  const onSilence = (a: Alarm, minutes: number) =>
    void write(a.id, async () => { await api.silenceAlarm(a.id, minutes); }, () => {
      silences.reload();
      notify(`Silenced ${metricLabel(a.metric)} ${a.operator} ${a.threshold} for ${minutes / 60} h`);
    });
  const onUnsilence = (a: Alarm, list: Silence[]) =>
    void write(a.id, async () => {
      for (const s of list) {
        try {
          await api.deleteSilence(s.id);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err; // already over or deleted
        }
      }
    }, () => {
      silences.reload();
      notify(`Unsilenced ${metricLabel(a.metric)} ${a.operator} ${a.threshold}`);
    });
  const onExportAlarm = (a: Alarm) =>
    void write(a.id, () => downloadAlarmExport(a.id), () => {
      notify(`Saved the Prometheus rule of ${metricLabel(a.metric)} ${a.operator} ${a.threshold}`);
    });
  const onToggleAlarm = (a: Alarm, enabled: boolean) =>
    void write(a.id, async () => { await api.setAlarmEnabled(a, enabled); }, () => {
      alarms.reload();
      notify(`${enabled ? "Enabled" : "Disabled"} ${metricLabel(a.metric)} ${a.operator} ${a.threshold}`);
    });

  const series = useMemo(() => {
    const list = metrics.data ?? [];
    const order = sortMetrics(list.map((s) => s.metric));
    return order.map((m) => list.find((s) => s.metric === m)).filter((s) => s !== undefined);
  }, [metrics.data]);
  const seriesByMetric = useMemo(() => new Map(series.map((s) => [s.metric, s])), [series]);
  const shownSeries = url.metric ? series.filter((s) => s.metric === url.metric) : series;
  const tz = location?.timezone ?? "UTC";
  const openSuggestions = suggestionList.filter((s) => s.status === "open").length;
  const alarmList = alarms.data ?? [];
  const firing = alarmList.filter((a) => a.enabled && a.state === "firing").length;
  const selectLocation = (name: string) => {
    setOpenAnomaly(null);
    setUrl({ location: name });
  };

  const mapCard = (
    <section className="card map-card" aria-labelledby="map-title">
      <h2 id="map-title" className="card-title">
        Worst anomaly per location, last {OVERVIEW_HOURS} h
        {overview.error && <span className="muted small"> (counts unavailable)</span>}
      </h2>
      <Suspense fallback={<Loading label="Loading map…" />}>
        {locations.data ? (
          <WorldMap
            locations={locations.data}
            overview={overview.data ?? []}
            selected={url.location}
            onSelect={selectLocation}
          />
        ) : (
          <Loading label="Loading map…" />
        )}
      </Suspense>
    </section>
  );

  return (
    <div className="app">
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <h1 className="brand"><span className="brand-dot" aria-hidden /> Preempt</h1>
        {health.data?.simulated && (
          <span className="badge-sim" role="status" title={`Data source: ${health.data.source}`}>
            SIMULATED DATA
          </span>
        )}
        <div className="topbar-status">
          {health.data && (
            <button
              type="button"
              className={`pill pill-${health.data.status === "ok" ? "ok" : "warn"}`}
              onClick={() => setUrl({ tab: "status" })}
              title="System status"
            >
              system {health.data.status} · collect {formatAgo(health.data.lastCollect, now)}
            </button>
          )}
          <span
            className={`live live-${live}`}
            title={live === "closed" && readAccess.error ? "Live updates need a viewer token" : "Live updates (server-sent events)"}
          >
            <span className="live-dot" aria-hidden /> {live === "open" ? "live" : live === "connecting" ? "connecting…" : "offline"}
          </span>
        </div>
      </header>

      {readAccess.error && !readAccess.asking && (
        <div className="auth-banner" role="alert">
          <span>Data hidden: reads on this server need a viewer token.</span>
          <button type="button" className="btn btn-small" onClick={readAccess.ask}>
            Enter token
          </button>
        </div>
      )}

      <div className="layout">
        <aside className="side" aria-label="Locations">
          {locations.error ? (
            <ErrorState error={locations.error} onRetry={locations.reload} />
          ) : (
            <LocationPicker
              locations={locations.data ?? []}
              selected={url.location}
              onSelect={selectLocation}
              loading={locations.loading}
            />
          )}
          {url.location && mapCard}
        </aside>

        <main id="main" className="main" tabIndex={-1}>
          {!url.location ? (
            <>
              <section className="card welcome">
                <h2>Pick a location</h2>
                <p>
                  Search one of {locations.data?.length.toLocaleString() ?? "the"} monitored cities or click a dot on the map.
                  Red and orange dots had high or medium severity anomalies in the last {OVERVIEW_HOURS} hours.
                </p>
              </section>
              {mapCard}
            </>
          ) : (
            <>
              <section className="loc-head card" aria-labelledby="loc-title">
                <div>
                  <h2 id="loc-title">{url.location}</h2>
                  {location ? (
                    <p className="muted small">
                      {location.latitude.toFixed(2)}°, {location.longitude.toFixed(2)}° · local time{" "}
                      <b data-testid="local-time">{formatClock(now, tz)}</b> ({tz}, {formatUtcOffset(now, tz)})
                    </p>
                  ) : locations.data ? (
                    <p className="error small">Unknown location “{url.location}”.</p>
                  ) : null}
                </div>
                <RangeSelector
                  now={now}
                  range={url.range}
                  since={url.since}
                  until={url.until}
                  onChange={(r, since, until) => setUrl({ range: r, since, until })}
                />
              </section>

              <section aria-label="Metric charts" className="charts-section">
                <div className="metric-tabs" role="group" aria-label="Metric">
                  <button type="button" className={`chip${url.metric ? "" : " on"}`} aria-pressed={!url.metric} onClick={() => setUrl({ metric: null })}>
                    All metrics
                  </button>
                  {series.map((s) => (
                    <button
                      key={s.metric}
                      type="button"
                      className={`chip${url.metric === s.metric ? " on" : ""}`}
                      aria-pressed={url.metric === s.metric}
                      onClick={() => setUrl({ metric: s.metric })}
                    >
                      {metricLabel(s.metric)}
                    </button>
                  ))}
                </div>
                {metrics.error ? (
                  <ErrorState error={metrics.error} onRetry={metrics.reload} />
                ) : !metrics.data ? (
                  <Loading label="Loading metrics…" />
                ) : shownSeries.length === 0 ? (
                  <Empty>No samples in this time range yet. New readings arrive every 5 minutes.</Empty>
                ) : (
                  <div className={`charts${url.metric ? " single" : ""}`}>
                    {shownSeries.map((s) => (
                      <MetricChart
                        key={s.metric}
                        series={s}
                        anomalies={anomalyList}
                        timeZone={tz}
                        height={url.metric ? 320 : 190}
                        onOpenAnomaly={setOpenAnomaly}
                      />
                    ))}
                  </div>
                )}
              </section>

              <section className="card tabs-card">
                <div role="tablist" aria-label="Details" className="tabs">
                  {(["anomalies", "suggestions", "alarms", "status"] as const).map((t) => (
                    <button
                      key={t}
                      role="tab"
                      type="button"
                      id={`tab-${t}`}
                      aria-selected={url.tab === t}
                      aria-controls={`panel-${t}`}
                      className={`tab${url.tab === t ? " on" : ""}`}
                      onClick={() => setUrl({ tab: t })}
                    >
                      {t === "anomalies" ? `Anomalies (${anomalyList.length})`
                        : t === "suggestions" ? `Alarm suggestions (${openSuggestions})`
                          : t === "alarms" ? `Alarms (${alarmList.length}${firing > 0 ? `, ${firing} firing` : ""})`
                            : "System status"}
                    </button>
                  ))}
                </div>
                <div role="tabpanel" id={`panel-${url.tab}`} aria-labelledby={`tab-${url.tab}`} className="tabpanel">
                  {url.tab === "anomalies" && (anomalies.error ? (
                    <ErrorState error={anomalies.error} onRetry={anomalies.reload} />
                  ) : !anomalies.data ? (
                    <Loading label="Loading anomalies…" />
                  ) : (
                    <AnomaliesTable
                      anomalies={anomalyList}
                      timeZone={tz}
                      now={now}
                      metric={url.metric}
                      onMetricChange={(m) => setUrl({ metric: m })}
                      onOpen={setOpenAnomaly}
                      onFeedback={onFeedback}
                      busyId={busy}
                    />
                  ))}
                  {url.tab === "suggestions" && (suggestions.error ? (
                    <ErrorState error={suggestions.error} onRetry={suggestions.reload} />
                  ) : !suggestions.data ? (
                    <Loading label="Loading suggestions…" />
                  ) : (
                    <SuggestionsList
                      suggestions={suggestionList}
                      seriesByMetric={seriesByMetric}
                      busyId={busy}
                      onAccept={onAccept}
                      onDismiss={onDismiss}
                    />
                  ))}
                  {url.tab === "alarms" && (alarms.error ? (
                    <ErrorState error={alarms.error} onRetry={alarms.reload} />
                  ) : !alarms.data ? (
                    <Loading label="Loading alarms…" />
                  ) : (
                    <>
                      {silences.error && (
                        <p className="error small" role="alert">Silences could not be loaded: {silences.error.message}</p>
                      )}
                      <AlarmsList
                        alarms={alarmList}
                        silences={silences.data ?? []}
                        now={now}
                        timeZone={tz}
                        busyId={busy}
                        onSilence={onSilence}
                        onUnsilence={onUnsilence}
                        onToggle={onToggleAlarm}
                        onExport={onExportAlarm}
                      />
                    </>
                  ))}
                  {url.tab === "status" && (health.error ? (
                    <ErrorState error={health.error} onRetry={health.reload} />
                  ) : !health.data ? (
                    <Loading label="Loading status…" />
                  ) : (
                    <SystemStatus health={health.data} now={now} />
                  ))}
                </div>
              </section>
            </>
          )}
        </main>
      </div>

      <div className="notices" aria-live="polite">
        {notices.map((n) => (
          <div key={n.id} className={`notice notice-${n.tone}`} role={n.tone === "error" ? "alert" : undefined}>
            {n.text}
          </div>
        ))}
      </div>

      {openAnomaly && (
        <AnomalyDetail
          anomaly={openAnomaly}
          locationName={url.location ?? ""}
          timeZone={tz}
          busy={busy === openAnomaly.id}
          onFeedback={onFeedback}
          onClose={() => setOpenAnomaly(null)}
        />
      )}
      {pending ? (
        <TokenDialog
          key="write"
          message={pending.message}
          onCancel={() => setPending(null)}
          onSubmit={(token) => {
            setToken(token);
            const retry = pending.retry;
            setPending(null);
            void retry();
          }}
        />
      ) : readAccess.asking && readAccess.error && (
        <TokenDialog
          key="read"
          message={`Reads on this server need a viewer token (or editor or admin). The server said: ${readAccess.error.message}.`}
          onCancel={readAccess.cancel}
          onSubmit={readAccess.submit}
        />
      )}
    </div>
  );
}
