"""Test and benchmark infrastructure (a throwaway PostgreSQL cluster, reflected tables): not part of the product."""
