from groundtune.cli.main import main

main()
