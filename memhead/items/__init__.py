"""Long-term memory items (issue 17): namespaced JSON objects with keyword and vector search
and a TTL. ``filters`` and ``namespaces`` are the pure rules every backend applies the same
way; the service and the HTTP routes build on the ``ItemStore`` role
(``memhead.stores.item_roles``)."""
