"""A department on a simulated clock: demo data, bench instances and the policy comparison."""
