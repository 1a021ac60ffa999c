"""Plumbing shared by every job: Ray start-up and actor placement, the job lock."""
