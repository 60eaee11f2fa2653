"""Outbound webhooks: each matching note POSTed, signed, to the endpoints a site registers.

``docs/webhooks.md`` is the receiver's side (payload, headers, verification)
and the operator's (``manage.py run_webhooks``). The modules, bottom up:
``models`` (endpoints and the durable queue), ``signing`` (the HMAC, and the
receiver-side check), ``endpoints`` (register, enable, disable, remove),
``queue`` (enqueue by cursor, claim, record an outcome), ``sender`` (one HTTP
POST, bounded) and ``worker`` (the loop ``run_webhooks`` runs).
"""
