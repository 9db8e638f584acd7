"""Request/reply over two streams: detect publishes jobs to ml_input and waits on ml_output.

Replies are matched by the `job_id` header. The reply stream has no consumer group (every
requester reads it from the position it remembered before publishing), so it is capped by
length instead of the safe trim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from preempt.streams.bus import Entry, StreamBus
from preempt.streams.names import JOB_ID_FIELD

logger = logging.getLogger(__name__)

REPLY_MAXLEN = 100_000


def request_replies(
    bus: StreamBus,
    *,
    request_stream: str,
    reply_stream: str,
    jobs: Mapping[str, bytes],
    timeout_s: float,
    poll_block_s: float = 1.0,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Entry]:
    """Publish `jobs` (job_id -> payload) and collect their replies until all came or timeout.

    Returns job_id -> reply entry for the replies that arrived; missing job ids timed out.
    """
    cursor = bus.last_id(reply_stream)  # remembered before publishing: no reply can be missed
    job_ids = list(jobs)
    bus.add_many(
        request_stream, [jobs[j] for j in job_ids], headers=[{JOB_ID_FIELD: j} for j in job_ids]
    )
    wanted = set(job_ids)
    replies: dict[str, Entry] = {}
    deadline = time.monotonic() + timeout_s
    while wanted and (left := deadline - time.monotonic()) > 0:
        if should_stop is not None and should_stop():
            break
        for entry in bus.read(reply_stream, after_id=cursor, count=1000,
                              block_s=min(left, poll_block_s)):
            cursor = entry.id
            job_id = entry.headers.get(JOB_ID_FIELD)
            if job_id in wanted:
                wanted.discard(job_id)
                replies[job_id] = entry
    if wanted:
        logger.warning("%d of %d jobs on %s got no reply within %.0fs",
                       len(wanted), len(job_ids), request_stream, timeout_s)
    return replies


def send_reply(
    bus: StreamBus, reply_stream: str, *, job_id: str, payload: bytes,
    maxlen: int = REPLY_MAXLEN,
) -> str:
    """The worker's side: publish the result of `job_id` (length-capped reply stream)."""
    return bus.add(reply_stream, payload, headers={JOB_ID_FIELD: job_id}, maxlen=maxlen)
