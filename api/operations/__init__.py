"""Operations: the clock's timed work and notification delivery, for supervisors."""
