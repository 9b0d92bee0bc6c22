from register_dr.cli import main

main()
