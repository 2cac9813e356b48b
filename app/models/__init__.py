"""The model store: which files exist (manifest), where they live, downloading and verifying them, installing
a file the user already has, and converting GFPGAN's checkpoint. No face maths and no inference here."""
