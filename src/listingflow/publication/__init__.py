"""Publishing: marketplace connections, prices, validation before sending, the publish jobs and
their history."""
