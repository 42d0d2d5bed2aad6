"""Tickets: categories, departments, SLA clocks, hand-offs, audit and public tracking."""
