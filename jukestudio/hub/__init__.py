"""Getting the published Jukebox weights from the Hugging Face Hub (or a mirror): no Qt.

* ``catalogue`` — the known repos with their sizes and license; remembered license accepts.
* ``download`` — resumable, verified file transfers through ``huggingface_hub``'s metadata and session.
* ``install`` — the whole job: plan (sizes, disk check) → fetch → check → convert into the store.
"""
