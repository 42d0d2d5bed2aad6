"""Demo data: staff for every role, traders and a realistic ticket history."""
