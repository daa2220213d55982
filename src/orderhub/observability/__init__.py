"""Health and metrics for operators: ``/healthz`` (load balancers) and ``/metrics`` (Prometheus)."""
