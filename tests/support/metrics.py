"""Reading a running server's ``/metrics`` in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.http import call


def scrape(server, **kwargs) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics``, keyed by (name, sorted labels)."""
    status, text = call(f"{server.http_url}/metrics", **kwargs)
    assert status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
