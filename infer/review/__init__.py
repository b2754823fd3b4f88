"""The brand liaison's review queue, review page and export."""

from infer.review.enqueue import enqueue, queue_verdict
from infer.review.queue import AlreadyDecided, QueueError, ReviewQueue

__all__ = ["AlreadyDecided", "QueueError", "ReviewQueue", "enqueue", "queue_verdict"]
