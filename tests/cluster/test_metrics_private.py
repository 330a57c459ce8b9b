"""/metrics is for Prometheus on each instance, never through the public balancer.

The bridge serves it to whoever asks (Prometheus scrapes instances directly); nginx, the
deployment's front door, refuses it in every spelling that reaches the same route.
"""

from __future__ import annotations

import asyncio

from yarl import URL

from tests.cluster.support import Cluster

# Spellings nginx normalises to /metrics (merged slashes, percent-encoding, a query) and
# the trailing-slash form: none may reach an instance.
SPELLINGS = ("/metrics", "/metrics/", "/metrics?name[]=x", "//metrics", "/%6Detrics", "/./metrics")


async def test_metrics_are_served_by_each_instance_and_refused_through_nginx(
    cluster: Cluster,
) -> None:
    for bridge in cluster.bridges:
        async with cluster.http.get(bridge.url + "/metrics") as response:
            assert response.status == 200, bridge.name
            assert "# TYPE" in await response.text()  # Prometheus exposition format

    for path in SPELLINGS:
        url = URL(cluster.nginx.url + path, encoded=True)
        async with cluster.http.get(url) as response:
            assert response.status == 404, path
            assert "# TYPE" not in await response.text(), path

    # The refusal is nginx's own: not one of those requests was passed to an instance, while
    # the rest of the site still is. nginx logs a request after answering it: the /healthz line,
    # the last request, is awaited (condition polled, with a deadline), the others precede it.
    async with cluster.http.get(cluster.nginx.url + "/healthz") as response:
        assert response.status == 200
    async with asyncio.timeout(10):
        while not any(" /healthz " in line for line in log_lines(cluster)):  # noqa: ASYNC110 - a file has no event
            await asyncio.sleep(0.02)
    lines = log_lines(cluster)
    assert any(" /healthz 200 upstream=127.0.0.1:" in line for line in lines), lines
    metrics = [line for line in lines if " /metrics" in line]
    assert len(metrics) == len(SPELLINGS), lines
    assert all("upstream=- " in line for line in metrics), metrics


def log_lines(cluster: Cluster) -> list[str]:
    return cluster.nginx.access_log.read_text().splitlines()
