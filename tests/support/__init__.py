"""Test support: wheels built at test time and a loopback index server serving every form."""
