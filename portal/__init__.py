"""The partner portal: the screens partner staff use all day (search, the guest's 360° page,
logging interactions, the tourist office's duplicates queue). Views are thin: the rules live in
``portal.selectors`` / ``portal.services`` and in the shared core."""
