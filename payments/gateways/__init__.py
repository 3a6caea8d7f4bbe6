"""WeChat Pay (partner mode) and Alipay (ISV) channels: gateway clients, verified callbacks, the query job for lost
callbacks, profit sharing and daily reconciliation. ``payments.gateways.routes`` wires them into the app.

Domains call ``payments.gateways.profit_sharing.request_profit_sharing(payment_public_id)`` once the payee
confirms fulfilment; everything else is reached through the engine (``payments``) and its channel registry.
"""
