import { useCallback, useEffect, useRef, useState } from "react";
import { useLatest } from "./useLatest";

export interface AsyncState<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  /** Fetch again; keeps showing the current data while loading (no flash on live refresh). */
  reload: () => void;
}

/** Run `load` whenever `deps` change; aborts the previous request. `load === null` idles. */
export function useAsync<T>(
  load: ((signal: AbortSignal) => Promise<T>) | null,
  deps: readonly unknown[],
): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState<boolean>(load !== null);
  const [tick, setTick] = useState(0);
  const loadRef = useLatest(load);
  const depsKey = JSON.stringify(deps);
  const lastKey = useRef<string | null>(null);

  useEffect(() => {
    const fn = loadRef.current;
    if (fn === null) {
      setLoading(false);
      setData(undefined);
      return;
    }
    const controller = new AbortController();
    if (lastKey.current !== depsKey) setData(undefined); // new subject: do not show stale data
    lastKey.current = depsKey;
    setLoading(true);
    setError(null);
    fn(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setLoading(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setError(err instanceof Error ? err : new Error(String(err)));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [depsKey, tick, loadRef]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
