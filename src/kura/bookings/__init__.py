"""Services a practice offers and the bookings of its agenda."""
