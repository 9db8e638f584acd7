import { useEffect, useState } from "react";

/** Seconds since the epoch, refreshed every `everyS` seconds (clocks, "x min ago"). */
export function useNow(everyS = 30): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now() / 1000), everyS * 1000);
    return () => window.clearInterval(id);
  }, [everyS]);
  return now;
}
