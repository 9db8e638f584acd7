import { useEffect, useState } from "react";
import { isAuthError, setToken, subscribeToken, type ApiError } from "../api/client";
import type { AsyncState } from "./useAsync";
import { useLatest } from "./useLatest";

export interface ReadAccess {
  /** The first 401/403 among the reads (its message names the problem), null when none. */
  error: ApiError | null;
  /** Show the token dialog now: a read was refused and the user has not cancelled. */
  asking: boolean;
  /** Store the token; the refused reads reload with it. */
  submit: (token: string) => void;
  /** Stop asking until `ask` (the refused reads keep their error). */
  cancel: () => void;
  ask: () => void;
}

/**
 * Servers may close reads (then every read needs a viewer token). Derived from the reads' own
 * errors, so the dialog shows once per failed round: a wrong token fails the reloads, which
 * asks again with the server's new message, and nothing asks after a cancel.
 */
export function useReadAccess(reads: readonly AsyncState<unknown>[]): ReadAccess {
  const [cancelled, setCancelled] = useState(false);
  const refused = reads.filter((r) => isAuthError(r.error));
  const refusedRef = useLatest(refused);
  const error = (refused[0]?.error ?? null) as ApiError | null;

  // Whoever sets the token (this dialog, a write's dialog, another tab), retry what it refused.
  useEffect(
    () => subscribeToken(() => {
      setCancelled(false);
      for (const r of refusedRef.current) r.reload();
    }),
    [refusedRef],
  );

  return {
    error,
    asking: error !== null && !cancelled,
    submit: setToken,
    cancel: () => setCancelled(true),
    ask: () => setCancelled(false),
  };
}
