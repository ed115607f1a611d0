"""Package data: the bundled WonderProxy mesh, the default landmark catalog, map borders."""
