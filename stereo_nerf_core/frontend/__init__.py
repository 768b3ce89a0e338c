"""Front-end: stereo synchronisation, rectification and the dense depth prior."""
