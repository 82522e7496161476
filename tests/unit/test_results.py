"""``BulkNotifyResult`` (``api/results.py``) as plain JSON."""

from __future__ import annotations

import json

from stoq_provider.api.results import BulkNotifyResult


def test_results_to_dict_is_json():
    result = BulkNotifyResult(requested=3, sent=["a"], already_notified=["b"], failed=[("c", "blocked")], requests=1)
    data = json.loads(json.dumps(result.to_dict(max_failures=0)))
    assert data["sent_count"] == 1 and data["failed_count"] == 1 and data["failed"] == []
    assert str(result) == "1 sent, 1 already notified, 1 failed of 3"
