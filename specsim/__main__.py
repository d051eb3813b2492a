from specsim.cli import main

main()
