"""The pure model: no gRPC, no SQL, no adapters."""
