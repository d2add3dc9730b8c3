import MiniappCore

MiniappCommand.main()
