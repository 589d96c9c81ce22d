"""(b) The systems list API as the national coordinator: latency of /api/registry/systems/?limit=50.

Real token authentication (hashed token created through core.services), the
Django test client (the whole middleware and DRF stack, no network), 5 warm-up
requests then 50 measured ones walking the pages with offset. Also measured
for an organization administrator, whose list is scoped.
"""
import os
import time

from common import emit, latency_figures, setup_django

setup_django()

from django.test import Client  # noqa: E402

from khien.core import services  # noqa: E402
from khien.core.models import User  # noqa: E402
from khien.registry import demo  # noqa: E402

N = int(os.environ.get("KHIEN_BENCH_REQUESTS", "50"))
URL = "/api/registry/systems/"


def measure(email: str) -> dict:
    user = User.objects.get(email=email)
    _token, key = services.do_create_api_token(user, acting_user=user, name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    first = client.get(URL, {"limit": 50})
    if first.status_code != 200:
        return {"skipped": f"{URL} answered {first.status_code}"}
    count = first.json().get("count", 0)
    for _ in range(5):
        client.get(URL, {"limit": 50})
    samples = []
    for i in range(N):
        offset = (i * 50) % max(count, 1)
        started = time.perf_counter()
        response = client.get(URL, {"limit": 50, "offset": offset})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return {"visible_systems": count, **latency_figures(samples)}


emit({
    "name": "api_systems_list",
    "url": f"{URL}?limit=50&offset=…",
    "coordinator": measure(demo.COORDINATOR.email),
    "org_admin": measure(next(a.email for a in demo.ACCOUNTS if a.role == "org_admin")),
})
