"""Models a recipe names: loading backends, served endpoints' failures as diagnostics, `synthc doctor`."""
