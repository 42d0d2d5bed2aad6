"""Live chat: the widget protocol, routing by region, language and VIP tier, and the agent workspace."""
