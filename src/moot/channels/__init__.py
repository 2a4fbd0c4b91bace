"""Text and voice channels in a space (issue 18): who sees them, and their messages."""
