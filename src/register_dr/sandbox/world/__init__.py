"""The world of upstream-facts.md: environments, the seeded apps and databases, the dataset, nightly backups."""
