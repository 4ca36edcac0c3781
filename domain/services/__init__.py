"""Commands that change the department's state: one function per lifecycle step.

Each takes keyword-only arguments starting with the unit of work and the acting person, runs
inside one transaction (the caller's `Database.run`), and raises `domain.errors` on failure.
"""
